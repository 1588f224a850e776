#include "ril/data/llava_importer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ril/common/error.h"
#include "ril/common/logging.h"
#include "ril/common/seed.h"
#include "ril/data/data_rng.h"
#include "ril/data/dataset.h"

namespace ril::data {

OnError parse_on_error(const std::string& name) {
  if (name == "skip") return OnError::kSkip;
  if (name == "fail") return OnError::kFail;
  throw ConfigError(cat("unknown --on-error value '", name, "' (expected skip or fail)"));
}

void ImportOptions::validate() const {
  RIL_CONFIG_CHECK(!input.empty(), "import: --input is required");
  RIL_CONFIG_CHECK(!output.empty(), "import: --out is required");
  RIL_CONFIG_CHECK(image_size >= 8 && image_size <= 1024, "import: image size must be in [8, 1024], got ", image_size);
  RIL_CONFIG_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction <= 1,
                   "import: val/test fractions must be >= 0 and sum to <= 1, got ", val_fraction, " and ",
                   test_fraction);
  RIL_CONFIG_CHECK(!family.empty() && family.find(',') == std::string::npos, "import: bad family name '", family, "'");
}

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + needle.size())) ++n;
  return n;
}

std::string string_field(const nlohmann::json& j, const char* key, bool required) {
  if (!j.contains(key)) {
    if (required) throw Error(cat("missing \"", key, "\""));
    return "";
  }
  const nlohmann::json& v = j.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  throw Error(cat("\"", key, "\" is not a string"));
}

LlavaRecord parse_record(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("record is not a JSON object");
  LlavaRecord r;
  r.id = string_field(j, "id", false);
  r.image = string_field(j, "image", false);
  if (r.image.empty()) throw Error("record has no \"image\" (text-only records cannot be imported)");
  r.family = string_field(j, "family", false);
  if (r.family.find(',') != std::string::npos) throw Error(cat("bad \"family\" '", r.family, "' (no commas)"));
  r.split = string_field(j, "split", false);
  if (!j.contains("conversations") || !j.at("conversations").is_array()) {
    throw Error("missing \"conversations\" array");
  }
  const nlohmann::json& turns = j.at("conversations");
  if (turns.empty()) throw Error("\"conversations\" is empty");
  if (turns.size() % 2 != 0) throw Error(cat("\"conversations\" has ", turns.size(), " turns; expected human/gpt pairs"));
  for (size_t t = 0; t < turns.size(); ++t) {
    const nlohmann::json& turn = turns[t];
    if (!turn.is_object() || !turn.contains("from") || !turn.contains("value") || !turn.at("from").is_string() ||
        !turn.at("value").is_string()) {
      throw Error(cat("turn ", t, " needs string fields \"from\" and \"value\""));
    }
    const std::string from = turn.at("from").get<std::string>();
    const std::string value = turn.at("value").get<std::string>();
    const bool human = from == "human" || from == "user";
    const bool gpt = from == "gpt" || from == "assistant";
    if (!human && !gpt) throw Error(cat("turn ", t, " is from '", from, "' (expected human or gpt)"));
    if (human != (t % 2 == 0)) throw Error(cat("turn ", t, " is from '", from, "'; turns must alternate human, gpt"));
    const size_t images = count_of(value, "<image>");
    if (human && t == 0 && images != 1) {
      throw Error(cat("the first human turn must contain \"<image>\" once, found ", images));
    }
    if (images != 0 && !(human && t == 0)) throw Error(cat("turn ", t, " has an unexpected \"<image>\" token"));
    if (human) {
      std::string question = value;
      const size_t p = question.find("<image>");
      if (p != std::string::npos) question.erase(p, 7);
      question = trim(question);
      if (question.empty()) throw Error(cat("turn ", t, " (human) has no question text"));
      r.pairs.push_back({question, ""});
    } else {
      const std::string response = trim(value);
      if (response.empty()) throw Error(cat("turn ", t, " (gpt) is empty"));
      r.pairs.back().response = response;
    }
  }
  return r;
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

Split assign_split(const ImportOptions& o, const LlavaRecord& r) {
  if (!r.split.empty()) return parse_split(r.split);
  // FNV-1a of the id (or the location) mixed with the seed: stable under reordering.
  const std::string key = r.id.empty() ? std::to_string(r.line) : r.id;
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
  const double u = static_cast<double>(splitmix64(h ^ splitmix64(static_cast<uint64_t>(o.seed))) >> 11) / 9007199254740992.0;
  if (u < o.test_fraction) return Split::kTest;
  if (u < o.test_fraction + o.val_fraction) return Split::kVal;
  return Split::kTrain;
}

}  // namespace

LlavaRecord parse_llava_record(const std::string& json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(cat("invalid JSON: ", e.what()));
  }
  return parse_record(j);
}

std::string answer_from_response(const std::string& response) {
  std::string low = response;
  for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t p = low.rfind("answer:");
  if (p != std::string::npos) {
    const size_t start = p + 7;
    const size_t end = std::min(response.find('\n', start), response.size());
    std::string a = trim(response.substr(start, end - start));
    while (!a.empty() && a.back() == '.') a.pop_back();
    if (!a.empty()) return a;
  }
  return trim(response);
}

std::string ImportReport::summary() const {
  std::string out = cat("import: ", records, " records read, ", imported_records, " imported as ", examples,
                        " examples, ", skipped, " skipped\n");
  for (const ImportIssue& issue : issues) out += cat("  ", location_kind, " ", issue.line, ": ", issue.message, "\n");
  return out;
}

ImportReport import_llava(const ImportOptions& o) {
  o.validate();
  std::ifstream in(o.input, std::ios::binary);
  if (!in) throw ConfigError(cat("import: cannot open ", o.input));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string content = buffer.str();
  const std::string root = o.image_root.empty() ? directory_of(o.input) : o.image_root;

  // Records as (location, JSON text or parsed value).
  struct Raw {
    int64_t line;
    std::string text;
  };
  std::vector<Raw> raws;
  ImportReport report;
  const size_t first = content.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && content[first] == '[') {
    report.location_kind = "record";
    nlohmann::json array;
    try {
      array = nlohmann::json::parse(content);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(cat(o.input, ": not valid JSON (", e.what(), "); use JSONL to import around bad records"));
    }
    int64_t k = 0;
    for (const auto& element : array) raws.push_back({++k, element.dump()});
  } else {
    std::istringstream lines(content);
    std::string line;
    int64_t number = 0;
    while (std::getline(lines, line)) {
      ++number;
      if (trim(line).empty()) continue;
      raws.push_back({number, line});
    }
  }

  DatasetWriterOptions w;
  w.path = o.output;
  w.image_height = w.image_width = o.image_size;
  w.rationale_styles = {"reference"};
  w.generator = "import";
  w.with_source = true;
  w.overwrite = o.overwrite;
  DatasetWriter writer(w);
  for (const Raw& raw : raws) {
    ++report.records;
    try {
      LlavaRecord r = parse_llava_record(raw.text);
      r.line = raw.line;
      const std::string path = !r.image.empty() && r.image[0] == '/' ? r.image : root + "/" + r.image;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) throw Error(cat("image not found: ", path));
      const Image image = resize_image(read_image_file(path), o.image_size, o.image_size, o.resize);
      const Split split = assign_split(o, r);
      for (const LlavaTurnPair& pair : r.pairs) {
        Example e;
        e.image = image;
        e.question = pair.question;
        e.answer = answer_from_response(pair.response);
        e.rationales["reference"] = pair.response;
        e.family = r.family.empty() ? o.family : r.family;
        e.split = split;
        writer.add(e, cat(o.input, ":", raw.line));
        ++report.examples;
      }
      ++report.imported_records;
    } catch (const ConfigError& e) {  // a bad "split" value is a bad record, not bad usage
      if (o.on_error == OnError::kFail) throw Error(cat(o.input, ":", raw.line, ": ", e.what()));
      report.issues.push_back({raw.line, e.what()});
      ++report.skipped;
    } catch (const std::exception& e) {  // any failure of one record (a directory as image, a read error) names its line
      if (o.on_error == OnError::kFail) {
        throw Error(cat(o.input, ":", raw.line, ": ", e.what(), " (--on-error skip imports around it)"));
      }
      report.issues.push_back({raw.line, e.what()});
      ++report.skipped;
      log_warn("data", o.input, " ", report.location_kind, " ", raw.line, ": skipped: ", e.what());
    }
  }
  if (report.examples == 0) throw Error(cat(o.input, ": no importable records (", report.skipped, " skipped)"));
  writer.set_attr("source", o.input);
  writer.set_attr("seed", o.seed);
  writer.set_attr("skipped_records", report.skipped);
  writer.finish();
  log_info("data", "imported ", report.examples, " examples from ", report.imported_records, " of ", report.records,
           " records of ", o.input, " into ", o.output, " (", report.skipped, " skipped)");
  return report;
}

}  // namespace ril::data
