#include "ril/roles/discriminator_prompt.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/text/chat_template.h"

namespace ril::roles {
namespace {

constexpr const char* kPromptFile = "/discriminator_prompt.json";
constexpr const char* kMarker = "\x01RESPONSE\x01";  // split point, never in the rendered template

std::vector<int64_t> encode_control(const text::BpeTokenizer& tokenizer, const std::string& text) {
  const std::vector<int32_t> ids = tokenizer.encode(text);  // control tokens allowed: our own template
  return std::vector<int64_t>(ids.begin(), ids.end());
}

}  // namespace

const char* const kPaperDiscriminatorSystem =
    "You are a discriminator assistant. Read the response and decide who wrote it: a teacher model "
    "or the student model. Return 0 if teacher, 1 if student.";

std::string stored_discriminator_system(const std::string& dir) {
  const std::string file = dir + kPromptFile;
  std::ifstream in(file);
  if (!in) return kPaperDiscriminatorSystem;
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(file, ": not valid JSON (", e.what(), ")"));
  }
  RIL_CHECK(j.is_object() && j.contains("system") && j["system"].is_string() && !j["system"].get<std::string>().empty(),
            file, ": expected {\"system\": \"<the discriminator's system message>\"}");
  return j["system"].get<std::string>();
}

void store_discriminator_system(const std::string& dir, const std::string& system) {
  const std::string file = dir + kPromptFile;
  std::ofstream out(file);
  out << nlohmann::json{{"system", system}}.dump(2) << "\n";
  RIL_CHECK(out.good(), file, ": write failed");
}

DiscriminatorPrompt::DiscriminatorPrompt(const text::BpeTokenizer& tokenizer, int64_t max_response_tokens,
                                         const std::string& system)
    : tokenizer_(tokenizer), max_response_tokens_(max_response_tokens), system_(system) {
  RIL_CHECK(!system_.empty(), "discriminator prompt: the system message is empty");
  const text::ChatTemplate chat;
  const std::string rendered = chat.render({text::ChatMessage::text("system", system_),
                                            text::ChatMessage::text("user", cat("<response>", kMarker, "</response>"))},
                                           /*add_generation_prompt=*/true);
  const size_t at = rendered.find(kMarker);
  RIL_CHECK(at != std::string::npos, "discriminator prompt: marker lost in the template");
  prefix_ = encode_control(tokenizer, rendered.substr(0, at));
  // Only the part before the response: the input ends on the response's last token (header).
  const auto& special = tokenizer.special_ids();
  pad_ = special.pad ? *special.pad : 0;
}

std::vector<int64_t> DiscriminatorPrompt::ids(const std::string& response) const {
  text::EncodeOptions plain;
  plain.allow_special = false;
  plain.invalid_utf8 = text::InvalidUtf8::kReplace;
  std::vector<int32_t> body = tokenizer_.encode(response, plain);
  if (static_cast<int64_t>(body.size()) > max_response_tokens_) body.resize(static_cast<size_t>(max_response_tokens_));
  std::vector<int64_t> out = prefix_;
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::pair<torch::Tensor, torch::Tensor> DiscriminatorPrompt::batch(const std::vector<std::string>& responses) const {
  RIL_CHECK(!responses.empty(), "discriminator batch of no responses");
  std::vector<std::vector<int64_t>> rows;
  int64_t t = 0;
  for (const std::string& r : responses) {
    rows.push_back(ids(r));
    t = std::max<int64_t>(t, static_cast<int64_t>(rows.back().size()));
  }
  const int64_t b = static_cast<int64_t>(rows.size());
  torch::Tensor ids = torch::full({b, t}, pad_, torch::kInt64);
  torch::Tensor mask = torch::zeros({b, t}, torch::kInt64);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < b; ++i) {
    for (size_t j = 0; j < rows[i].size(); ++j) {
      ia[i][static_cast<int64_t>(j)] = rows[i][j];
      ma[i][static_cast<int64_t>(j)] = 1;
    }
  }
  return {ids, mask};
}

}  // namespace ril::roles
