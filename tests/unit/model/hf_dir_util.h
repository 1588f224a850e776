// Test helpers that rewrite copies of Hugging Face model directories (config.json keys, weight
// names, sharding) so one fixture checks every layout a loader must accept.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "ril/model/safetensors.h"

namespace ril::model::testing {

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json j;
  in >> j;
  return j;
}

inline void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
}

// Copies every file of `from` into the new directory `to`; returns `to`.
inline std::string copy_dir(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(to);
  for (const auto& e : std::filesystem::directory_iterator(from)) {
    std::filesystem::copy_file(e.path(), to + "/" + e.path().filename().string());
  }
  return to;
}

// Applies `edit` to dir/config.json.
inline void edit_config(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = read_json(dir + "/config.json");
  edit(j);
  write_json(dir + "/config.json", j);
}

// Renames every tensor of dir/model.safetensors with `rename`.
inline void rename_weights(const std::string& dir, const std::function<std::string(const std::string&)>& rename) {
  TensorMap out;
  for (auto& [name, t] : read_safetensors(dir + "/model.safetensors")) out[rename(name)] = t.clone();
  write_safetensors(dir + "/model.safetensors", out);
}

inline std::string replace_prefix(const std::string& name, const std::string& from, const std::string& to) {
  return name.compare(0, from.size(), from) == 0 ? to + name.substr(from.size()) : name;
}

// model.safetensors -> model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json (the
// index written here by hand, as HF lays it out).
inline void split_into_two_shards(const std::string& dir) {
  TensorMap all;
  for (auto& [name, t] : read_safetensors(dir + "/model.safetensors")) all[name] = t.clone();
  std::filesystem::remove(dir + "/model.safetensors");
  TensorMap first, second;
  nlohmann::json weight_map = nlohmann::json::object();
  int64_t total = 0, i = 0;
  for (const auto& [name, t] : all) {
    const bool in_first = i++ < static_cast<int64_t>(all.size()) / 2;
    (in_first ? first : second)[name] = t;
    weight_map[name] = in_first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    total += t.numel() * t.element_size();
  }
  write_safetensors(dir + "/model-00001-of-00002.safetensors", first);
  write_safetensors(dir + "/model-00002-of-00002.safetensors", second);
  write_json(dir + "/model.safetensors.index.json", {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
}

}  // namespace ril::model::testing
