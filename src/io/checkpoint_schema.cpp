#include "ril/io/checkpoint_schema.h"

#include "ril/common/error.h"
#include "ril/io/module_state.h"

namespace ril::io {

namespace n = checkpoint_names;

void write_checkpoint_header(H5File& file, const CheckpointHeader& header) {
  write_int64(file, n::kStep, header.step);
  if (header.world_size >= 0) write_int64(file, n::kWorldSize, header.world_size);
  if (header.learners >= 0) write_int64(file, n::kLearners, header.learners);
  if (!header.config_text.empty()) write_string(file, n::kConfig, header.config_text);
  if (!header.student_config.empty()) file.set_attr("/", n::kStudentConfig, header.student_config);
  if (!header.student_tokenizer.empty()) file.set_attr("/", n::kStudentTokenizer, header.student_tokenizer);
  if (!header.stage.empty()) file.set_attr("/", n::kStage, header.stage);
}

CheckpointHeader read_checkpoint_header(const H5File& file) {
  CheckpointHeader h;
  RIL_CHECK(file.exists(n::kStep) && !file.is_group(n::kStep), "checkpoint ", file.path(), " has no '", n::kStep,
            "'");
  h.step = read_int64(file, n::kStep);
  if (file.exists(n::kWorldSize)) h.world_size = read_int64(file, n::kWorldSize);
  if (file.exists(n::kLearners)) h.learners = read_int64(file, n::kLearners);
  if (file.exists(n::kConfig)) h.config_text = read_string(file, n::kConfig);
  if (file.has_attr("/", n::kStudentConfig)) h.student_config = file.attr_string("/", n::kStudentConfig);
  if (file.has_attr("/", n::kStudentTokenizer)) h.student_tokenizer = file.attr_string("/", n::kStudentTokenizer);
  if (file.has_attr("/", n::kStage)) h.stage = file.attr_string("/", n::kStage);
  return h;
}

std::string student_tensor_group(const H5File& file) {
  if (file.is_group(n::kStudent)) return n::kStudent;
  if (file.is_group(n::kLegacySftStudent)) return n::kLegacySftStudent;
  return "";
}

std::string checkpoint_origin(const CheckpointHeader& header) {
  if (header.stage == "sft") return "sft";
  if (!header.stage.empty()) return "train --stage " + header.stage;
  const std::string head = "# ril ";
  if (header.config_text.compare(0, head.size(), head) != 0) return "";
  const size_t end = header.config_text.find_first_of(", \n", head.size());
  return header.config_text.substr(head.size(), end == std::string::npos ? std::string::npos : end - head.size());
}

}  // namespace ril::io
