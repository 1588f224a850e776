// Private helpers of the config.json readers (model_config.cpp, qwen2_5_vl_config.cpp,
// internvl_config.cpp): typed getters whose errors name the file and the key.
#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "ril/common/error.h"

namespace ril::model::config_json {

using json = nlohmann::json;

inline bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

template <typename T>
T get_required(const json& j, const char* key, const std::string& source) {
  RIL_CONFIG_CHECK(j.contains(key), source, ": missing required key '", key, "'");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw ConfigError(cat(source, ": key '", key, "' has the wrong type (", j.at(key).dump(), "): ", e.what()));
  }
}

template <typename T>
T get_optional(const json& j, const char* key, const T& fallback, const std::string& source) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  return get_required<T>(j, key, source);
}

inline void check_positive(int64_t value, const char* key, const std::string& source) {
  RIL_CONFIG_CHECK(value > 0, source, ": key '", key, "' must be > 0, got ", value);
}

// `architectures`, when present, must name only supported classes.
inline void check_architectures(const json& j, const std::vector<std::string>& supported,
                                const std::string& source) {
  if (!j.contains("architectures") || j.at("architectures").is_null()) return;
  const json& arch = j.at("architectures");
  RIL_CONFIG_CHECK(arch.is_array(), source, ": key 'architectures' must be a list");
  for (const json& a : arch) {
    const bool ok = a.is_string() &&
                    std::find(supported.begin(), supported.end(), a.get<std::string>()) != supported.end();
    RIL_CONFIG_CHECK(ok, source, ": key 'architectures' = ", arch.dump(), " is not supported (supported: ",
                     json(supported).dump(), ")");
  }
}

// HF writes nested configs as a diff against the class defaults: fills the absent keys.
inline void fill_defaults(json& j, const std::vector<std::pair<const char*, json>>& defaults) {
  for (const auto& [k, v] : defaults) {
    if (!j.contains(k) || j.at(k).is_null()) j[k] = v;
  }
}

// An int or a [h, w] pair that must be square (InternVL image_size / patch_size).
inline int64_t get_square(const json& j, const char* key, int64_t fallback, const std::string& source) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  const json& v = j.at(key);
  if (v.is_array()) {
    const auto hw = get_required<std::vector<int64_t>>(j, key, source);
    RIL_CONFIG_CHECK(hw.size() == 2 && hw[0] == hw[1], source, ": key '", key, "' = ", v.dump(),
                     " is not supported (only square sizes)");
    return hw[0];
  }
  return get_required<int64_t>(j, key, source);
}

// A 3-value list (image_mean / image_std), or `fallback` when absent.
inline std::array<double, 3> get_rgb(const json& j, const char* key, const std::array<double, 3>& fallback,
                                     const std::string& source) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  const auto v = get_required<std::vector<double>>(j, key, source);
  RIL_CONFIG_CHECK(v.size() == 3, source, ": key '", key, "' must have 3 values, got ", j.at(key).dump());
  return {v[0], v[1], v[2]};
}

// preprocessor_config.json switches that ril implements one setting of (both families):
// do_resize / do_rescale / do_normalize true, rescale_factor 1/255, resample 3 (bicubic).
void check_fixed_processor_keys(const json& j, const std::string& source);

// Reads a whole JSON file; errors name the file.
json read_json_file(const std::string& file);

}  // namespace ril::model::config_json
