#include "ril/data/synth_generator.h"

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/seed.h"
#include "ril/data/data_rng.h"
#include "ril/data/rationale_writer.h"
#include "ril/data/scene_renderer.h"

#include <algorithm>

namespace ril::data {

void SynthOptions::validate() const {
  RIL_CONFIG_CHECK(!output.empty(), "synth: --out is required");
  RIL_CONFIG_CHECK(n_train >= 0 && n_val >= 0 && n_test >= 0 && n_train + n_val + n_test > 0,
                   "synth: example counts must be >= 0 and not all zero (train ", n_train, ", val ", n_val,
                   ", test ", n_test, ")");
  RIL_CONFIG_CHECK(!families.empty(), "synth: no task families selected");
  difficulty.validate(image_size,
                      std::find(families.begin(), families.end(), TaskFamily::kComparison) != families.end());
}

uint64_t synth_example_seed(int64_t seed, Split split, int64_t index) {
  const uint64_t split_stream = splitmix64(splitmix64(static_cast<uint64_t>(seed)) + static_cast<uint64_t>(split) + 1);
  return splitmix64(split_stream ^ splitmix64(static_cast<uint64_t>(index)));
}

GeneratedExample generate_synthetic_example(const SynthOptions& options, Split split, int64_t index) {
  DataRng rng(synth_example_seed(options.seed, split, index));
  const TaskFamily family = options.families[static_cast<size_t>(index) % options.families.size()];
  GeneratedExample out;
  out.task = generate_example(family, options.image_size, options.difficulty, rng);
  RenderOptions render;
  render.colour_jitter = options.difficulty.colour_jitter;
  render.noise = options.difficulty.noise;
  out.image = render_scene(out.task.scene, render, rng);
  return out;
}

int64_t write_synthetic_dataset(const SynthOptions& options) {
  options.validate();
  DatasetWriterOptions w;
  w.path = options.output;
  w.image_height = w.image_width = options.image_size;
  w.rationale_styles = rationale_styles(options.difficulty.grid);
  w.generator = "synth";
  w.with_scene = true;
  w.overwrite = options.overwrite;
  DatasetWriter writer(w);
  for (TaskFamily f : options.families) writer.declare_family(family_name(f));
  const std::pair<Split, int64_t> parts[] = {
      {Split::kTrain, options.n_train}, {Split::kVal, options.n_val}, {Split::kTest, options.n_test}};
  for (const auto& [split, count] : parts) {
    for (int64_t i = 0; i < count; ++i) {
      GeneratedExample g = generate_synthetic_example(options, split, i);
      Example e;
      e.image = std::move(g.image);
      e.question = g.task.question;
      e.answer = g.task.answer;
      e.rationales = g.task.rationales;
      e.family = family_name(g.task.query.family);
      e.split = split;
      e.scene_json = g.task.scene.to_json();
      writer.add(e);
    }
  }
  const SynthDifficulty& d = options.difficulty;
  writer.set_attr("seed", options.seed);
  writer.set_attr("n_train", options.n_train);
  writer.set_attr("n_val", options.n_val);
  writer.set_attr("n_test", options.n_test);
  writer.set_attr("min_objects", static_cast<int64_t>(d.min_objects));
  writer.set_attr("max_objects", static_cast<int64_t>(d.max_objects));
  writer.set_attr("max_count", static_cast<int64_t>(d.max_count));
  writer.set_attr("max_digits", static_cast<int64_t>(d.max_digits));
  writer.set_attr("digit_distractors", static_cast<int64_t>(d.digit_distractors));
  writer.set_attr("colour_jitter", static_cast<int64_t>(d.colour_jitter));
  writer.set_attr("noise", static_cast<int64_t>(d.noise));
  writer.set_attr("grid", static_cast<int64_t>(d.grid));
  writer.set_attr("colours", static_cast<int64_t>(d.colours));
  writer.set_attr("shapes", static_cast<int64_t>(d.shapes));
  writer.finish();
  log_info("data", "wrote ", writer.count(), " synthetic examples (", options.n_train, " train, ", options.n_val,
           " val, ", options.n_test, " test, seed ", options.seed, ") to ", options.output);
  return writer.count();
}

}  // namespace ril::data
