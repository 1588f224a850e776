// Reference rationales in distinct styles, so that teachers fine-tuned on different styles
// answer differently (the discriminator has something to tell apart):
//   "terse": one sentence with the fact, then "Answer: X".
//   "steps": enumerates the relevant objects with positions, reasons step by step, then
//            "Answer: X" (on grid boards: the whole board row by row, then the reasoning).
//   "scan":  grid boards only: the board row by row, each cell marked in the question's terms
//            ("-" for a cell that does not matter; a running count, the colour asked for, the
//            digit, ...), then the conclusion. Every mark depends only on its own image token and
//            the question, and the conclusion copies or combines a few marks: the step-by-step
//            style small models learn fastest.
//   "explained": the terse sentence in a conversational frame ("Let me look at the image. <terse>
//            So the answer is X."): a different wording and length, the same decision, so that a
//            student taught both styles can use a teacher of either (bench/learning-diagnostics.md 7).
// All end with the line "Answer: <answer>".
#pragma once

#include <string>
#include <vector>

#include "ril/data/synth_task.h"

namespace ril::data {

// {"terse", "steps", "explained"}, and "scan" for grid boards (grid > 0).
std::vector<std::string> rationale_styles(int grid = 0);

// Throws ril::Error for an unknown style.
std::string write_rationale(const std::string& style, const Scene& scene, const TaskQuery& query,
                            const std::string& answer);

}  // namespace ril::data
