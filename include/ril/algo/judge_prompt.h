// The LLM judge's prompt (DESIGN.md section 1, "Judge prompt"; issue 16): the paper's form -- an
// evaluation assistant compares the generated response with the ground-truth answer, writes a
// short explanation, then 0 or 1 inside <answer></answer> (parsed by judge_verdict.h). The text
// is ours, and can be replaced by a file (`ril train --judge-prompt FILE`).
//
// A template holds each of the three placeholders exactly once:
//   {question}  {ground_truth}  {response}
// Any other brace group that looks like a placeholder -- "{" + letters, digits, '_' or '-' (or
// nothing) + "}", e.g. "{answer}", "{Question}", "{ground-truth}", "{0}", "{}" -- is an error,
// so a typo cannot silently leave a field out. Braces around anything else ("{0, 1}", "{ x }",
// a lone "{") are plain text. There is no escape for a literal "{question}".
//
// render() substitutes the three values literally, in one pass over the template: a value is
// never scanned for placeholders, so a response containing "{question}" stays as written.
// The result is the judge's user-turn text. It holds untrusted text (the response is written by
// the policy being trained), so the caller wraps it in the chat template and encodes it with
// allow_special=false, as DiscriminatorPrompt does: a response cannot close the turn or forge
// the judge's reply.
// Which ranks call: every rank that loads the judge's config (errors alike everywhere), and the
// judge ranks to render.
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace ril::algo {

enum class JudgeField { kQuestion, kGroundTruth, kResponse };
const char* judge_field_placeholder(JudgeField field);  // "{question}", "{ground_truth}", "{response}"

class JudgePrompt {
 public:
  // The built-in template (default_text()).
  JudgePrompt();

  // A template from memory; `source` names it in errors (a path, "--judge-prompt", a test).
  // Throws ril::ConfigError naming `source` (and the line) for a missing, repeated or unknown
  // placeholder.
  static JudgePrompt from_text(std::string text, std::string source);
  // A template file (UTF-8 text, at most kMaxFileBytes; trailing newlines dropped). Throws
  // ril::ConfigError naming `path` when it is missing, a directory, unreadable, too large, or
  // holds a bad template (as from_text).
  static JudgePrompt from_file(const std::string& path);

  static const std::string& default_text();
  static constexpr size_t kMaxFileBytes = 1 << 20;

  // The template with the three values in place of their placeholders, each inserted verbatim.
  std::string render(const std::string& question, const std::string& ground_truth,
                     const std::string& response) const;

  const std::string& text() const { return text_; }
  const std::string& source() const { return source_; }

 private:
  JudgePrompt(std::string text, std::string source);

  std::string text_;
  std::string source_;
  // The template cut at its placeholders:
  //   pieces_[0] value(fields_[0]) pieces_[1] value(fields_[1]) pieces_[2] value(fields_[2]) pieces_[3]
  std::array<std::string, 4> pieces_;
  std::array<JudgeField, 3> fields_{};
};

}  // namespace ril::algo
