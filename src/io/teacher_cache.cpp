#include "ril/io/teacher_cache.h"

#include <hdf5.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/common/paths.h"
#include "h5_check.h"

namespace ril::io {
namespace {

std::string teacher_group(const std::string& name) { return "teachers/" + name; }
std::string qid_name(const std::string& name) { return teacher_group(name) + "/question_id"; }
std::string sample_name(const std::string& name) { return teacher_group(name) + "/sample_index"; }
std::string response_name(const std::string& name) { return teacher_group(name) + "/response"; }

void check_name(const std::string& name) {
  RIL_CONFIG_CHECK(!name.empty() && name.find('/') == std::string::npos && name.find('=') == std::string::npos,
                   "teacher name '", name, "' must be non-empty and contain no '/' or '='");
}

std::string attr_text(const H5File& f, const std::string& obj, const std::string& name) {
  // Attributes can be string, int or double; try in that order.
  try {
    return f.attr_string(obj, name);
  } catch (const std::exception&) {
  }
  try {
    return std::to_string(f.attr_int(obj, name));
  } catch (const std::exception&) {
  }
  std::ostringstream out;
  out.precision(17);
  out << f.attr_double(obj, name);
  return out.str();
}

// Raw HDF5 helpers for truncation (H5File has no shrink).
struct RawHandle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~RawHandle() {
    if (id >= 0) close(id);
  }
};

int64_t raw_rows(hid_t dset, const std::string& ctx) {
  RawHandle space{RIL_H5_CHECK(H5Dget_space(dset), ctx), H5Sclose};
  hsize_t dims[8];
  const int rank = RIL_H5_CHECK(H5Sget_simple_extent_dims(space.id, dims, nullptr), ctx);
  RIL_CHECK(rank >= 1, "dataset ", ctx, " is scalar");
  return static_cast<int64_t>(dims[0]);
}

void raw_set_rows(hid_t dset, int64_t rows, const std::string& ctx) {
  RawHandle space{RIL_H5_CHECK(H5Dget_space(dset), ctx), H5Sclose};
  hsize_t dims[8];
  const int rank = RIL_H5_CHECK(H5Sget_simple_extent_dims(space.id, dims, nullptr), ctx);
  dims[0] = static_cast<hsize_t>(rows);
  (void)rank;
  RIL_H5_CHECK(H5Dset_extent(dset, dims), ctx);
}

int64_t raw_read_int64(hid_t dset, int64_t row, const std::string& ctx) {
  RawHandle space{RIL_H5_CHECK(H5Dget_space(dset), ctx), H5Sclose};
  hsize_t start = static_cast<hsize_t>(row), count = 1;
  RIL_H5_CHECK(H5Sselect_hyperslab(space.id, H5S_SELECT_SET, &start, nullptr, &count, nullptr), ctx);
  RawHandle mem{RIL_H5_CHECK(H5Screate_simple(1, &count, nullptr), ctx), H5Sclose};
  int64_t value = 0;
  RIL_H5_CHECK(H5Dread(dset, H5T_NATIVE_INT64, mem.id, space.id, H5P_DEFAULT, &value), ctx);
  return value;
}

// Names of the members of a group (raw).
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

DatasetFingerprint dataset_fingerprint(const std::string& dataset_path) {
  const H5File f = H5File::open(dataset_path, "dataset");
  std::vector<std::string> names = f.attr_names("/");
  std::sort(names.begin(), names.end());
  DatasetFingerprint fp;
  for (const std::string& n : names) {
    fp.text += n + "=" + attr_text(f, "/", n) + ";";
  }
  fp.count = f.has_attr("/", "count") ? f.attr_int("/", "count") : 0;
  return fp;
}

std::string TeacherInfo::differences(const TeacherInfo& o) const {
  std::string out;
  auto diff = [&](const char* field, const auto& a, const auto& b) {
    if (!(a == b)) out += cat(out.empty() ? "" : ", ", field, " ", a, " (cache) vs ", b, " (this run)");
  };
  diff("model_path", model_path, o.model_path);
  diff("model_type", model_type, o.model_type);
  diff("tokenizer_path", tokenizer_path, o.tokenizer_path);
  diff("source", source, o.source);
  diff("temperature", temperature, o.temperature);
  diff("top_p", top_p, o.top_p);
  diff("top_k", top_k, o.top_k);
  diff("repetition_penalty", repetition_penalty, o.repetition_penalty);
  diff("max_new_tokens", max_new_tokens, o.max_new_tokens);
  diff("seed", seed, o.seed);
  diff("responses_per_question", responses_per_question, o.responses_per_question);
  diff("split", split, o.split);
  return out;
}

int64_t truncate_uncommitted(const std::string& path) {
  detail::silence_hdf5_errors();
  RawHandle file{RIL_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), path), H5Fclose};
  if (H5Lexists(file.id, "teachers", H5P_DEFAULT) <= 0) return 0;
  RawHandle group{RIL_H5_CHECK(H5Gopen2(file.id, "teachers", H5P_DEFAULT), path), H5Gclose};
  std::vector<std::string> names;
  RIL_H5_CHECK(H5Literate(group.id, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), path);
  int64_t dropped = 0;
  for (const std::string& name : names) {
    const std::string obj = teacher_group(name);
    const std::string ctx = cat("'", path, "' ", obj);
    int64_t committed = 0;
    if (H5Aexists_by_name(file.id, obj.c_str(), "committed", H5P_DEFAULT) > 0) {
      RawHandle attr{RIL_H5_CHECK(H5Aopen_by_name(file.id, obj.c_str(), "committed", H5P_DEFAULT, H5P_DEFAULT), ctx),
                     H5Aclose};
      RIL_H5_CHECK(H5Aread(attr.id, H5T_NATIVE_INT64, &committed), ctx);
    }
    for (const std::string& ds : {qid_name(name), sample_name(name)}) {
      if (H5Lexists(file.id, ds.c_str(), H5P_DEFAULT) <= 0) continue;
      RawHandle d{RIL_H5_CHECK(H5Dopen2(file.id, ds.c_str(), H5P_DEFAULT), ctx), H5Dclose};
      const int64_t rows = raw_rows(d.id, ds);
      RIL_CHECK(rows >= committed, "teacher cache ", ctx, " has ", rows, " rows in ", ds, " but committed = ",
                committed, ": the file is damaged");
      if (rows > committed) {
        if (ds == qid_name(name)) dropped += rows - committed;
        raw_set_rows(d.id, committed, ds);
      }
    }
    const std::string offsets = response_name(name) + "/offsets", bytes = response_name(name) + "/bytes";
    if (H5Lexists(file.id, response_name(name).c_str(), H5P_DEFAULT) > 0 &&
        H5Lexists(file.id, offsets.c_str(), H5P_DEFAULT) > 0) {
      RawHandle off{RIL_H5_CHECK(H5Dopen2(file.id, offsets.c_str(), H5P_DEFAULT), ctx), H5Dclose};
      RawHandle byt{RIL_H5_CHECK(H5Dopen2(file.id, bytes.c_str(), H5P_DEFAULT), ctx), H5Dclose};
      const int64_t off_rows = raw_rows(off.id, offsets);
      RIL_CHECK(off_rows >= committed + 1, "teacher cache ", ctx, " has ", off_rows - 1,
                " responses but committed = ", committed, ": the file is damaged");
      const int64_t end = raw_read_int64(off.id, committed, offsets);
      if (off_rows > committed + 1) raw_set_rows(off.id, committed + 1, offsets);
      if (raw_rows(byt.id, bytes) > end) raw_set_rows(byt.id, end, bytes);
    }
  }
  RIL_H5_CHECK(H5Fflush(file.id, H5F_SCOPE_GLOBAL), path);
  return dropped;
}

TeacherCache::TeacherCache(H5File file) : file_(std::make_unique<H5File>(std::move(file))) {}
TeacherCache::TeacherCache(TeacherCache&&) noexcept = default;
TeacherCache& TeacherCache::operator=(TeacherCache&&) noexcept = default;
TeacherCache::~TeacherCache() = default;

TeacherCache TeacherCache::open(const std::string& path, OpenMode mode) {
  if (mode == OpenMode::kReadWrite) {
    // Checks kind/version first, with the usual messages.
    H5File::open(path, kTeacherCacheKind, OpenMode::kRead).close();
    truncate_uncommitted(path);
  }
  TeacherCache cache(H5File::open(path, kTeacherCacheKind, mode));
  cache.check_question_ids(cache.dataset_count());
  return cache;
}

void TeacherCache::check_question_ids(int64_t dataset_size) const {
  for (const std::string& teacher : teachers()) {
    // Readers take the ids as int64 and the sample indices as int32, bit for bit: another type
    // (a float64 column written by another tool) would read as garbage ids.
    for (const auto& [dataset, wanted] : {std::pair{qid_name(teacher), ElementType::kInt64},
                                          std::pair{sample_name(teacher), ElementType::kInt32}}) {
      RIL_CONFIG_CHECK(file_->exists(dataset), "teacher cache '", path(), "': dataset '", dataset,
                       "' is missing; rebuild the cache with ril teach");
      ElementType type = wanted;
      try {
        type = file_->element_type(dataset);
      } catch (const Error& e) {
        throw ConfigError(cat("teacher cache '", path(), "': ", e.what()));
      }
      RIL_CONFIG_CHECK(type == wanted, "teacher cache '", path(), "': dataset '", dataset, "' has type ",
                       element_type_name(type), ", expected ", element_type_name(wanted),
                       "; it was not written by ril teach: rebuild it, or import the responses with ril teach --import-jsonl");
    }
    const int64_t rows = committed(teacher);
    if (rows == 0) continue;
    const RawArray q = file_->read_rows(qid_name(teacher), 0, rows);
    const int64_t* ids = q.as<int64_t>();
    const auto [low, high] = std::minmax_element(ids, ids + rows);
    RIL_CONFIG_CHECK(*low >= 0 && *high < dataset_size, "teacher cache '", path(), "', teacher '", teacher,
                     "': question ids ", *low < 0 ? cat("from ", *low) : cat("up to ", *high), ", the dataset has ",
                     dataset_size, " questions (ids 0..", dataset_size - 1,
                     "); the cache does not belong to this dataset: rebuild it with ril teach");
  }
}

TeacherCache TeacherCache::open_for_dataset(const std::string& path, const std::string& dataset_path) {
  const DatasetFingerprint fp = dataset_fingerprint(dataset_path);
  if (path_exists(path)) {
    TeacherCache cache = open(path, OpenMode::kReadWrite);
    const std::string theirs = cache.dataset_fingerprint_text();
    if (theirs != fp.text) {
      throw Error(cat("teacher cache '", path, "' was built for dataset '", cache.dataset_path(),
                      "', not for '", dataset_path, "' (dataset attributes differ: cache has [", theirs,
                      "], this dataset has [", fp.text, "]); use another --out or remove the cache"));
    }
    return cache;
  }
  H5File f = H5File::create(path, kTeacherCacheKind);
  f.set_attr("/", "cache_version", kTeacherCacheVersion);
  f.set_attr("/", "dataset_path", dataset_path);
  f.set_attr("/", "dataset_fingerprint", fp.text);
  f.set_attr("/", "dataset_count", fp.count);
  f.create_group("teachers");
  f.flush();
  return TeacherCache(std::move(f));
}

const std::string& TeacherCache::path() const { return file_->path(); }
std::string TeacherCache::dataset_path() const { return file_->attr_string("/", "dataset_path"); }
std::string TeacherCache::dataset_fingerprint_text() const { return file_->attr_string("/", "dataset_fingerprint"); }
int64_t TeacherCache::dataset_count() const { return file_->attr_int("/", "dataset_count"); }
H5File& TeacherCache::file() { return *file_; }
const H5File& TeacherCache::file() const { return *file_; }

bool TeacherCache::has_teacher(const std::string& name) const {
  return file_->exists("teachers") && file_->exists(teacher_group(name));
}

std::vector<std::string> TeacherCache::teachers() const {
  if (!file_->exists("teachers")) return {};
  return file_->list("teachers");
}

TeacherInfo TeacherCache::teacher(const std::string& name) const {
  RIL_CHECK(has_teacher(name), "teacher '", name, "' not in cache '", path(), "' (it has: ",
            [&] {
              std::string s;
              for (const auto& t : teachers()) s += (s.empty() ? "" : ", ") + t;
              return s.empty() ? std::string("none") : s;
            }(),
            ")");
  const H5File& f = *file_;
  const std::string g = teacher_group(name);
  TeacherInfo t;
  t.name = name;
  t.model_path = f.attr_string(g, "model_path");
  t.model_type = f.attr_string(g, "model_type");
  t.tokenizer_path = f.attr_string(g, "tokenizer_path");
  t.source = f.attr_string(g, "source");
  t.temperature = f.attr_double(g, "temperature");
  t.top_p = f.attr_double(g, "top_p");
  t.top_k = f.attr_int(g, "top_k");
  t.repetition_penalty = f.attr_double(g, "repetition_penalty");
  t.max_new_tokens = f.attr_int(g, "max_new_tokens");
  t.seed = f.attr_int(g, "seed");
  t.responses_per_question = f.attr_int(g, "responses_per_question");
  t.split = f.attr_string(g, "split");
  t.split_questions = f.attr_int(g, "split_questions");
  return t;
}

bool TeacherCache::add_teacher(const TeacherInfo& info) {
  check_name(info.name);
  if (has_teacher(info.name)) {
    const std::string diff = teacher(info.name).differences(info);
    if (!diff.empty()) {
      throw Error(cat("teacher '", info.name, "' in cache '", path(), "' was made with other settings: ", diff,
                      "; use the cache's settings, another teacher name, or another --out"));
    }
    return false;
  }
  H5File& f = *file_;
  const std::string g = teacher_group(info.name);
  f.create_group(g);
  f.set_attr(g, "model_path", info.model_path);
  f.set_attr(g, "model_type", info.model_type);
  f.set_attr(g, "tokenizer_path", info.tokenizer_path);
  f.set_attr(g, "source", info.source);
  f.set_attr(g, "temperature", info.temperature);
  f.set_attr(g, "top_p", info.top_p);
  f.set_attr(g, "top_k", info.top_k);
  f.set_attr(g, "repetition_penalty", info.repetition_penalty);
  f.set_attr(g, "max_new_tokens", info.max_new_tokens);
  f.set_attr(g, "seed", info.seed);
  f.set_attr(g, "responses_per_question", info.responses_per_question);
  f.set_attr(g, "split", info.split);
  f.set_attr(g, "split_questions", info.split_questions);
  DatasetOptions ext;
  ext.extendable = true;
  ext.chunk_rows = 65536;
  ext.compression = 0;  // appended in place (see H5File::append_rows); 12 of ~500 bytes a row
  f.write_vector<int64_t>(qid_name(info.name), {}, ext);
  f.write_vector<int32_t>(sample_name(info.name), {}, ext);
  f.write_text(response_name(info.name), {});
  f.set_attr(g, "committed", int64_t{0});
  f.flush();
  return true;
}

int64_t TeacherCache::committed(const std::string& teacher) const {
  const auto known = committed_.find(teacher);
  if (known != committed_.end()) return known->second;
  RIL_CHECK(has_teacher(teacher), "teacher '", teacher, "' not in cache '", path(), "'");
  return file_->attr_int(teacher_group(teacher), "committed");
}

int64_t TeacherCache::append(const std::string& teacher, const std::vector<TeacherRow>& rows) {
  const int64_t before = committed(teacher);
  if (rows.empty()) return before;
  H5File& f = *file_;
  if (committed_.count(teacher) == 0) {
    // First append through this object: the datasets may hold exactly `before` rows (the open
    // truncated the rest). Later appends keep that true themselves.
    RIL_CHECK(f.shape(qid_name(teacher))[0] == before, "teacher cache '", path(), "' teacher '", teacher,
              "' holds uncommitted rows; reopen it for writing to drop them");
  }
  std::vector<int64_t> qids;
  std::vector<int32_t> samples;
  std::vector<std::string_view> texts;
  qids.reserve(rows.size());
  samples.reserve(rows.size());
  texts.reserve(rows.size());
  for (const TeacherRow& r : rows) {
    qids.push_back(r.question_id);
    samples.push_back(r.sample_index);
    texts.emplace_back(r.response);
  }
  const int64_t n = static_cast<int64_t>(rows.size());
  // Forgotten until the commit went through: after a failure the next call reads the file again
  // (and refuses to append over rows left beyond `committed`).
  committed_.erase(teacher);
  // Rows first, flushed to the OS; THEN `committed`, flushed: a writer killed at any point leaves
  // `committed` at a count whose rows are all in the file (the open cuts what lies beyond).
  f.append_text_views(response_name(teacher), texts);
  f.append_rows(sample_name(teacher), n, samples.data());
  f.append_rows(qid_name(teacher), n, qids.data());
  f.flush();
  f.set_attr(teacher_group(teacher), "committed", before + n);
  f.flush();
  committed_[teacher] = before + n;
  return before + n;
}

std::vector<TeacherRow> TeacherCache::rows(const std::string& teacher, int64_t start, int64_t count) const {
  const int64_t total = committed(teacher);
  if (count < 0) count = total - start;
  RIL_CHECK(start >= 0 && count >= 0 && start + count <= total, "rows [", start, ", ", start + count,
            ") out of range: teacher '", teacher, "' has ", total, " committed rows in '", path(), "'");
  std::vector<TeacherRow> out(static_cast<size_t>(count));
  if (count == 0) return out;
  const RawArray q = file_->read_rows(qid_name(teacher), start, count);
  const RawArray s = file_->read_rows(sample_name(teacher), start, count);
  std::vector<std::string> texts = file_->read_text(response_name(teacher), start, count);
  for (int64_t i = 0; i < count; ++i) {
    out[static_cast<size_t>(i)] = {q.as<int64_t>()[i], s.as<int32_t>()[i], std::move(texts[static_cast<size_t>(i)])};
  }
  return out;
}

std::map<int64_t, int64_t> TeacherCache::response_counts(const std::string& teacher) const {
  std::map<int64_t, int64_t> counts;
  const int64_t total = committed(teacher);
  if (total == 0) return counts;
  const RawArray q = file_->read_rows(qid_name(teacher), 0, total);
  for (int64_t i = 0; i < total; ++i) ++counts[q.as<int64_t>()[i]];
  return counts;
}

std::map<std::string, std::vector<TeacherResponse>> TeacherCache::responses_for(int64_t question_id) const {
  std::map<std::string, std::vector<TeacherResponse>> out;
  for (const std::string& t : teachers()) {
    const int64_t total = committed(t);
    if (total == 0) continue;
    const RawArray q = file_->read_rows(qid_name(t), 0, total);
    for (int64_t i = 0; i < total; ++i) {
      if (q.as<int64_t>()[i] != question_id) continue;
      const TeacherRow row = rows(t, i, 1).front();
      out[t].push_back({row.sample_index, row.response});
    }
    if (out.count(t)) {
      std::sort(out[t].begin(), out[t].end(),
                [](const TeacherResponse& a, const TeacherResponse& b) { return a.sample_index < b.sample_index; });
    }
  }
  return out;
}

Coverage TeacherCache::coverage(const std::string& teacher, const std::vector<int64_t>& question_ids) const {
  const int64_t n = this->teacher(teacher).responses_per_question;
  const auto counts = response_counts(teacher);
  Coverage c;
  c.total = static_cast<int64_t>(question_ids.size());
  c.rows = committed(teacher);
  for (int64_t q : question_ids) {
    auto it = counts.find(q);
    if (it != counts.end() && it->second >= n) ++c.complete;
  }
  return c;
}

Coverage TeacherCache::coverage(const std::string& teacher) const {
  const TeacherInfo info = this->teacher(teacher);
  Coverage c;
  c.total = info.split_questions;
  c.rows = committed(teacher);
  for (const auto& [q, k] : response_counts(teacher)) {
    if (k >= info.responses_per_question) ++c.complete;
  }
  return c;
}

ImportReport TeacherCache::import_jsonl(const std::string& jsonl_path, const std::string& teacher) {
  RIL_CHECK(has_teacher(teacher), "teacher '", teacher, "' not in cache '", path(), "': add it first");
  std::ifstream in(jsonl_path);
  if (!in) throw Error(cat("cannot read JSONL file '", jsonl_path, "'"));
  const int64_t count = dataset_count();
  // Existing texts per question (for duplicate detection) and next sample index.
  std::map<int64_t, std::set<std::string>> seen;
  std::map<int64_t, int32_t> next_sample;
  for (const TeacherRow& r : rows(teacher)) {
    seen[r.question_id].insert(r.response);
    next_sample[r.question_id] = std::max(next_sample[r.question_id], r.sample_index + 1);
  }
  ImportReport report;
  std::vector<TeacherRow> good;
  std::string line;
  int64_t number = 0;
  auto bad = [&](const std::string& why) { report.errors.push_back(cat(jsonl_path, ":", number, ": ", why)); };
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++report.lines;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      bad(cat("not valid JSON (", e.what(), ")"));
      continue;
    }
    if (!j.is_object()) {
      bad("not a JSON object");
      continue;
    }
    const char* key = j.contains("question_id") ? "question_id" : (j.contains("index") ? "index" : nullptr);
    if (!key) {
      bad("no \"question_id\" (or \"index\")");
      continue;
    }
    if (!j[key].is_number_integer()) {
      bad(cat("\"", key, "\" is not an integer"));
      continue;
    }
    const int64_t q = j[key].get<int64_t>();
    if (q < 0 || q >= count) {
      bad(cat("\"", key, "\" ", q, " is out of range [0, ", count, ") for the dataset"));
      continue;
    }
    if (j.contains("teacher") && !(j["teacher"].is_string() && j["teacher"].get<std::string>() == teacher)) {
      bad(cat("\"teacher\" is ", j["teacher"].dump(), ", not \"", teacher, "\""));
      continue;
    }
    if (!j.contains("response") || !j["response"].is_string()) {
      bad("no \"response\" string");
      continue;
    }
    std::string text = j["response"].get<std::string>();
    if (!seen[q].insert(text).second) {
      ++report.duplicates;
      continue;
    }
    good.push_back({q, next_sample[q]++, std::move(text)});
  }
  append(teacher, good);
  report.imported = static_cast<int64_t>(good.size());
  return report;
}

std::string summarize_teacher_cache(const H5File& file) {
  std::ostringstream out;
  out << "teacher cache for dataset '" << file.attr_string("/", "dataset_path") << "' ("
      << file.attr_int("/", "dataset_count") << " questions)\n";
  if (!file.exists("teachers")) return out.str();
  for (const std::string& name : file.list("teachers")) {
    const std::string g = teacher_group(name);
    const int64_t committed = file.attr_int(g, "committed");
    const int64_t n = file.attr_int(g, "responses_per_question");
    const int64_t split_questions = file.attr_int(g, "split_questions");
    std::map<int64_t, int64_t> counts;
    if (committed > 0) {
      const RawArray q = file.read_rows(qid_name(name), 0, committed);
      for (int64_t i = 0; i < committed; ++i) ++counts[q.as<int64_t>()[i]];
    }
    int64_t complete = 0;
    for (const auto& [q, k] : counts) complete += k >= n;
    out << "  teacher " << name << ": " << file.attr_string(g, "source") << " "
        << file.attr_string(g, "model_type") << " '" << file.attr_string(g, "model_path") << "', split "
        << file.attr_string(g, "split") << ", N=" << n << ", temperature " << file.attr_double(g, "temperature")
        << ", top-p " << file.attr_double(g, "top_p") << ", top-k " << file.attr_int(g, "top_k")
        << ", repetition penalty " << file.attr_double(g, "repetition_penalty") << ", max new tokens "
        << file.attr_int(g, "max_new_tokens") << "\n"
        << "    coverage " << complete << "/" << split_questions << " questions with " << n << " responses ("
        << (split_questions > 0 ? 100.0 * static_cast<double>(complete) / static_cast<double>(split_questions) : 0.0)
        << "%), " << committed << " committed responses, " << counts.size() << " questions with any\n";
  }
  return out.str();
}

}  // namespace ril::io
