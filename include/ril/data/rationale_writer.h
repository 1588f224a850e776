// Reference rationales in distinct styles, so that teachers fine-tuned on different styles
// answer differently (the discriminator has something to tell apart):
//   "terse": one sentence with the fact, then "Answer: X".
//   "steps": enumerates the relevant objects with positions, reasons step by step, then
//            "Answer: X".
// Both end with the line "Answer: <answer>".
#pragma once

#include <string>
#include <vector>

#include "ril/data/synth_task.h"

namespace ril::data {

std::vector<std::string> rationale_styles();  // {"terse", "steps"}

// Throws ril::Error for an unknown style.
std::string write_rationale(const std::string& style, const Scene& scene, const TaskQuery& query,
                            const std::string& answer);

}  // namespace ril::data
