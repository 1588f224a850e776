#include "ril/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"
#include "ril/common/logging.h"

namespace ril::model {
namespace {

using json = nlohmann::json;

// Header larger than this is certainly not a safetensors file (the format caps it at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int64_t element_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "BF16" || dtype == "F16" || dtype == "I16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

torch::Dtype safetensors_dtype(const std::string& name) {
  if (name == "F32") return torch::kFloat32;
  if (name == "F64") return torch::kFloat64;
  if (name == "BF16") return torch::kBFloat16;
  if (name == "F16") return torch::kFloat16;
  if (name == "I64") return torch::kInt64;
  if (name == "I32") return torch::kInt32;
  if (name == "I16") return torch::kInt16;
  if (name == "I8") return torch::kInt8;
  if (name == "U8") return torch::kUInt8;
  if (name == "BOOL") return torch::kBool;
  throw Error(cat("safetensors: unsupported dtype '", name, "'"));
}

std::string safetensors_dtype_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "F32";
    case torch::kFloat64: return "F64";
    case torch::kBFloat16: return "BF16";
    case torch::kFloat16: return "F16";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: break;
  }
  throw Error(cat("safetensors: cannot store dtype ", c10::toString(dtype)));
}

// ---------------------------------------------------------------------------------------------
// Reading

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr && size > 0) ::munmap(addr, size);
  }
};

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  RIL_CHECK(fd >= 0, path, ": cannot open safetensors file: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(cat(path, ": fstat failed: ", std::strerror(errno)));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  mapping_ = std::make_shared<Mapping>();
  if (file_size > 0) {
    void* addr = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      ::close(fd);
      throw Error(cat(path, ": mmap of ", file_size, " bytes failed: ", std::strerror(errno)));
    }
    mapping_->addr = addr;
    mapping_->size = file_size;
  }
  ::close(fd);

  RIL_CHECK(file_size >= 8, path, ": truncated or not a safetensors file: ", file_size,
            " bytes, need at least 8 for the header length");
  const auto* bytes = static_cast<const uint8_t*>(mapping_->addr);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian
  RIL_CHECK(header_len <= kMaxHeaderBytes, path, ": header length ", header_len,
            " bytes is implausible (limit ", kMaxHeaderBytes, "): not a safetensors file?");
  RIL_CHECK(8 + header_len <= file_size, path, ": truncated: header says ", header_len,
            " bytes of JSON, file has only ", file_size - 8, " after the length");
  data_offset_ = 8 + header_len;
  const uint64_t data_size = file_size - data_offset_;

  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(bytes + 8),
                         reinterpret_cast<const char*>(bytes + 8 + header_len));
  } catch (const json::exception& e) {
    throw Error(cat(path, ": safetensors header is not valid JSON: ", e.what()));
  }
  RIL_CHECK(header.is_object(), path, ": safetensors header must be a JSON object");

  uint64_t max_end = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      RIL_CHECK(v.is_object(), path, ": '__metadata__' must be an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        RIL_CHECK(m.value().is_string(), path, ": '__metadata__' value '", m.key(),
                  "' must be a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    RIL_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") &&
                  v.contains("data_offsets"),
              path, ": tensor '", name, "': header entry needs dtype, shape and data_offsets, got ",
              v.dump());
    SafetensorsEntry e;
    try {
      e.dtype = v.at("dtype").get<std::string>();
      e.shape = v.at("shape").get<std::vector<int64_t>>();
      const auto off = v.at("data_offsets").get<std::vector<uint64_t>>();
      RIL_CHECK(off.size() == 2, path, ": tensor '", name, "': data_offsets must have 2 entries");
      e.begin = off[0];
      e.end = off[1];
    } catch (const json::exception& ex) {
      throw Error(cat(path, ": tensor '", name, "': malformed header entry ", v.dump(), ": ",
                      ex.what()));
    }
    const int64_t esize = element_size(e.dtype);
    RIL_CHECK(esize > 0, path, ": tensor '", name, "': unsupported dtype '", e.dtype, "'");
    int64_t numel = 1;
    for (int64_t d : e.shape) {
      RIL_CHECK(d >= 0, path, ": tensor '", name, "': negative dimension in shape ",
                shape_string(e.shape));
      numel *= d;
    }
    RIL_CHECK(e.end >= e.begin, path, ": tensor '", name, "': data_offsets [", e.begin, ", ",
              e.end, "] are reversed");
    RIL_CHECK(e.end - e.begin == static_cast<uint64_t>(numel * esize), path, ": tensor '", name,
              "': data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
              " bytes, but ", e.dtype, " ", shape_string(e.shape), " needs ", numel * esize);
    RIL_CHECK(e.end <= data_size, path, ": truncated: tensor '", name, "' ends at data byte ",
              e.end, ", the file has only ", data_size, " data bytes (expected file size ",
              data_offset_ + e.end, ", got ", file_size, ")");
    max_end = std::max(max_end, e.end);
    ranges.emplace_back(e.begin, e.end);
    entries_.emplace(name, std::move(e));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    RIL_CHECK(ranges[i].first >= ranges[i - 1].second, path,
              ": tensor data ranges overlap at byte ", ranges[i].first);
  }
  if (max_end < data_size) {
    log_warn("model", path, ": ", data_size - max_end, " trailing bytes after the last tensor");
  }
}

SafetensorsFile::~SafetensorsFile() = default;

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  RIL_CHECK(it != entries_.end(), path_, ": no tensor named '", name, "'");
  return it->second;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const torch::Dtype dtype = safetensors_dtype(e.dtype);
  if (e.end == e.begin) return torch::empty(e.shape, torch::TensorOptions().dtype(dtype));
  auto* data = static_cast<uint8_t*>(mapping_->addr) + data_offset_ + e.begin;
  const int64_t esize = element_size(e.dtype);
  std::shared_ptr<Mapping> keep = mapping_;
  if (reinterpret_cast<uintptr_t>(data) % esize != 0) {
    // Misaligned data (legal in the format, rare in practice): copy into aligned memory.
    torch::Tensor out = torch::empty(e.shape, torch::TensorOptions().dtype(dtype));
    std::memcpy(out.data_ptr(), data, e.end - e.begin);
    return out;
  }
  return torch::from_blob(data, e.shape, [keep](void*) {}, torch::TensorOptions().dtype(dtype));
}

TensorMap read_safetensors(const std::string& path) {
  SafetensorsFile file(path);
  TensorMap out;
  for (const auto& name : file.names()) out.emplace(name, file.tensor(name));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> cpu;
  cpu.reserve(tensors.size());
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RIL_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const std::string dtype = safetensors_dtype_name(c.scalar_type());
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", dtype},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    cpu.push_back(std::move(c));
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // align the data section to 8 bytes
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    RIL_CHECK(out.good(), tmp, ": cannot open for writing");
    const uint64_t n = text.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& c : cpu) {
      out.write(static_cast<const char*>(c.data_ptr()),
                static_cast<std::streamsize>(c.numel() * c.element_size()));
    }
    out.flush();
    RIL_CHECK(out.good(), tmp, ": write failed (disk full?)");
  }
  RIL_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": rename from ", tmp,
            " failed: ", std::strerror(errno));
}

TensorMap read_safetensors_dir(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (file_exists(single)) return read_safetensors(single);
  RIL_CHECK(file_exists(index), dir, ": no model.safetensors or model.safetensors.index.json");
  std::ifstream in(index);
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw Error(cat(index, ": not valid JSON: ", e.what()));
  }
  RIL_CHECK(j.is_object() && j.contains("weight_map") && j.at("weight_map").is_object(), index,
            ": missing key 'weight_map'");
  std::map<std::string, std::vector<std::string>> by_file;
  for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) {
    RIL_CHECK(it.value().is_string(), index, ": weight_map['", it.key(), "'] must be a string");
    by_file[it.value().get<std::string>()].push_back(it.key());
  }
  TensorMap out;
  for (const auto& [file, names] : by_file) {
    RIL_CHECK(file.find('/') == std::string::npos, index, ": shard name '", file,
              "' must be a plain file name");
    SafetensorsFile shard(dir + "/" + file);
    for (const auto& name : names) {
      RIL_CHECK(shard.contains(name), index, ": tensor '", name, "' is mapped to ", file,
                ", which does not contain it");
      out.emplace(name, shard.tensor(name));
    }
    for (const auto& name : shard.names()) {
      RIL_CHECK(out.count(name) > 0, dir + "/" + file, ": tensor '", name,
                "' is not listed in ", index);
    }
  }
  return out;
}

void write_safetensors_dir(const std::string& dir, const TensorMap& tensors,
                           int64_t max_shard_bytes) {
  std::vector<TensorMap> shards(1);
  int64_t current = 0;
  int64_t total = 0;
  for (const auto& [name, t] : tensors) {
    const int64_t nbytes = t.numel() * static_cast<int64_t>(t.element_size());
    total += nbytes;
    if (max_shard_bytes > 0 && current > 0 && current + nbytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().emplace(name, t);
    current += nbytes;
  }
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (shards.size() == 1) {
    write_safetensors(single, shards[0]);
    std::remove(index.c_str());
    return;
  }
  const int n = static_cast<int>(shards.size());
  json weight_map = json::object();
  for (int i = 0; i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", i + 1, n);
    write_safetensors(dir + "/" + name, shards[i]);
    for (const auto& kv : shards[i]) weight_map[kv.first] = name;
  }
  json j = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const std::string tmp = index + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    RIL_CHECK(out.good(), tmp, ": write failed");
  }
  RIL_CHECK(std::rename(tmp.c_str(), index.c_str()) == 0, index, ": rename failed");
  std::remove(single.c_str());
}

}  // namespace ril::model
