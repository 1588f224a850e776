// `ril-data synth`: writes a synthetic dataset file (layout in dataset.h). Example i of split s
// is generated from its own seed mix(seed, s, i), so the splits come from disjoint seed streams,
// any example can be regenerated alone, and the same options give a byte-identical file.
// Families rotate with the index (i % families), so every split is balanced by construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ril/data/dataset.h"
#include "ril/data/image.h"
#include "ril/data/synth_task.h"

namespace ril::data {

struct SynthOptions {
  std::string output;
  int64_t seed = 1;
  int image_size = 64;          // square images
  int64_t n_train = 2000;
  int64_t n_val = 200;
  int64_t n_test = 200;
  std::vector<TaskFamily> families = all_families();
  SynthDifficulty difficulty;
  bool overwrite = false;
  void validate() const;        // throws ril::ConfigError
};

uint64_t synth_example_seed(int64_t seed, Split split, int64_t index);

struct GeneratedExample {
  SynthExample task;
  Image image;
};

// Example `index` of `split`, exactly as write_synthetic_dataset stores it.
GeneratedExample generate_synthetic_example(const SynthOptions& options, Split split, int64_t index);

// Writes options.output atomically; returns the number of examples written.
int64_t write_synthetic_dataset(const SynthOptions& options);

}  // namespace ril::data
