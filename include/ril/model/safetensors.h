// safetensors files (https://github.com/huggingface/safetensors, format: 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
// then the raw little-endian data) and HF sharded checkpoints
// (model-0000i-of-0000n.safetensors + model.safetensors.index.json).
//
// Reading maps the file (mmap) and validates the header before any tensor is touched:
// every entry's dtype, shape and offsets, offsets within the data, no overlaps, and a file long
// enough for the data (a truncated file gives "truncated: ... expected N bytes, file has M").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace ril::model {

// Name -> tensor, ordered by name.
using TensorMap = std::map<std::string, torch::Tensor>;

struct SafetensorsEntry {
  std::string dtype;           // "F32", "BF16", "F16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  uint64_t begin = 0;          // byte offsets into the data section
  uint64_t end = 0;
};

// A mapped safetensors file. Tensors returned by tensor() are CPU views on the mapping: they
// keep the mapping alive and must not be written to (clone() before modifying).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  torch::Tensor tensor(const std::string& name) const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  uint64_t data_offset_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of one file (views on the mapping; see SafetensorsFile::tensor).
TensorMap read_safetensors(const std::string& path);

// Writes `tensors` (any device; contiguous CPU copies are made) to `path` via a temporary file
// and a rename. Supported dtypes: float32/64, bfloat16, float16, int64/32/16/8, uint8, bool.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// HF checkpoint directory: model.safetensors, or model.safetensors.index.json + its shards.
// Throws when neither exists, naming the directory.
TensorMap read_safetensors_dir(const std::string& dir);

// Writes model.safetensors when the tensors fit in `max_shard_bytes`, else
// model-0000i-of-0000n.safetensors shards (tensors in name order, a new shard when the next
// tensor would pass the limit) and model.safetensors.index.json. Removes a stale file of the
// other layout. max_shard_bytes <= 0: never shard.
void write_safetensors_dir(const std::string& dir, const TensorMap& tensors,
                           int64_t max_shard_bytes = 0);

// "F32" <-> torch::kFloat32 etc.; throws for an unsupported name or dtype.
torch::Dtype safetensors_dtype(const std::string& name);
std::string safetensors_dtype_name(torch::Dtype dtype);

}  // namespace ril::model
