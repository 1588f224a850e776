// What a ril checkpoint holds (checkpoint_store.h writes and finds the files): ONE set of names
// for the writers (ril sft, ril train) and the readers (their resume, ril eval).
//
// Main file (kind "checkpoint"):
//   /student          group: the student's parameters (save_tensors; HF 4.x names)
//   /optimizer        group: the student's AdamW state (absent in ril train --stage disc)
//   /step             int64: optimizer updates done
//   /world_size       int64: ranks of the job that wrote it
//   /learners         int64: learner ranks (ril sft: the data order depends on them)
//   /config           text: the resolved configuration (INI)
//   root attributes   student_config (the student's config.json text), student_tokenizer
//                     (absolute path of its tokenizer.json), stage ("sft" | "disc" | "ril")
// Per-rank part (kind "checkpoint-rank"; inside the main file when the job has one rank):
//   /rng_cpu          the rank's default CPU generator
//   /discriminator, /disc_optimizer   the discriminator root's D and its AdamW (ril train)
// ril train --shard optimizer|gradients (roles/optimizer_shards.h): the main file holds
// /optimizer_shards (the index: which rank parts hold the student's AdamW shards) instead of
// /optimizer, and each learner rank's part holds its /optimizer_shard; likewise D: the D root's
// part holds /disc_optimizer_shards instead of /disc_optimizer, each D rank's part its
// /disc_optimizer_shard.
// Older files: `ril sft` before this schema wrote /model instead of /student and no
// student_config, student_tokenizer, stage or world_size; the readers here accept them.
// Which ranks call: whoever writes or reads a checkpoint file.
#pragma once

#include <cstdint>
#include <string>

#include "ril/io/h5_file.h"

namespace ril::io {

namespace checkpoint_names {
inline constexpr const char* kStudent = "student";
inline constexpr const char* kLegacySftStudent = "model";
inline constexpr const char* kOptimizer = "optimizer";
inline constexpr const char* kStep = "step";
inline constexpr const char* kWorldSize = "world_size";
inline constexpr const char* kLearners = "learners";
inline constexpr const char* kConfig = "config";
inline constexpr const char* kStudentConfig = "student_config";
inline constexpr const char* kStudentTokenizer = "student_tokenizer";
inline constexpr const char* kStage = "stage";
inline constexpr const char* kRankRng = "rng_cpu";
inline constexpr const char* kDiscriminator = "discriminator";
inline constexpr const char* kDiscOptimizer = "disc_optimizer";
inline constexpr const char* kOptimizerShards = "optimizer_shards";
inline constexpr const char* kOptimizerShard = "optimizer_shard";
inline constexpr const char* kDiscOptimizerShards = "disc_optimizer_shards";
inline constexpr const char* kDiscOptimizerShard = "disc_optimizer_shard";
}  // namespace checkpoint_names

// The scalar facts of a main file. On reading, what an older file lacks stays at the
// "not recorded" value given here.
struct CheckpointHeader {
  int64_t step = 0;
  int64_t world_size = -1;        // -1: not recorded
  int64_t learners = -1;          // -1: not recorded (ril train does not record it)
  std::string stage;              // "": not recorded
  std::string config_text;        // resolved configuration, INI
  std::string student_config;     // config.json text; "": not recorded
  std::string student_tokenizer;  // path; "": not recorded
};

// Writes every recorded field (world_size and learners when >= 0, strings when non-empty).
void write_checkpoint_header(H5File& file, const CheckpointHeader& header);
// Reads what the file has; throws ril::Error (naming the file) when it has no step.
CheckpointHeader read_checkpoint_header(const H5File& file);

// The group holding the student's tensors: "student", or "model" in an older ril sft file;
// "" when the file has neither.
std::string student_tensor_group(const H5File& file);

// The command that wrote a checkpoint, for a refusal that names it: "sft", "train --stage disc",
// "train --stage ril" (from the stage; an older file without one: from its resolved
// configuration's first line "# ril <command>, ..."), or "" when the file says neither.
std::string checkpoint_origin(const CheckpointHeader& header);

}  // namespace ril::io
