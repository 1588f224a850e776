// The HDF5 store: every ril file (dataset, teacher cache, checkpoint, run, smoke) is an H5File.
// - Every file carries root attributes `format_version` (int64) and `kind` (string), checked
//   on open with a message that says what to do.
// - Text is stored as a group holding `bytes` (uint8, flat UTF-8) + `offsets` (int64, N+1),
//   never as variable-length strings; ragged int32 token ids likewise (`ids` + `offsets`).
// - Growing datasets are chunked and extendable along dimension 0, deflate-compressed unless
//   DatasetOptions::compression is 0; ragged values (text bytes, token ids) are stored without a
//   filter (append and read move only their own bytes; files written with deflate still read).
// - Every HDF5 call is checked (RIL_H5_CHECK in src/io/h5_check.h): a failure throws
//   ril::Error with the expression, the HDF5 error stack, the file path, file:line and rank.
// hdf5.h stays out of this header (pimpl). Not thread-safe: HDF5 here is the serial build.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ril::io {

// Version of the layout this build writes and reads. Bump on incompatible change.
constexpr int64_t kFormatVersion = 1;

// Element types the store understands. HDF5 1.10 has no half types: bfloat16/float16 are
// stored as uint16 bit patterns and bool as uint8, with attribute `ril_dtype` telling which.
enum class ElementType { kFloat32, kFloat64, kBFloat16, kFloat16, kInt64, kInt32, kUInt8, kBool, kUInt16 };

size_t element_size(ElementType type);
const char* element_type_name(ElementType type);  // "float32", "bfloat16", ...

// Options for a new dataset; the defaults suit small, static arrays.
struct DatasetOptions {
  bool extendable = false;  // unlimited along dimension 0, so append() can grow it
  int64_t chunk_rows = 0;   // rows per chunk; 0 picks ~1 MiB chunks
  int compression = 4;      // deflate level 0-9 (0 = none); applies to chunked datasets only
};

// A dataset read back whole or in part: raw bytes plus the type and shape to interpret them.
struct RawArray {
  ElementType type = ElementType::kUInt8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  int64_t numel() const;
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
};

enum class OpenMode { kRead, kReadWrite };

// How a dataset is stored, for `ril info`.
struct DatasetInfo {
  ElementType type = ElementType::kUInt8;
  std::vector<int64_t> shape;
  std::vector<int64_t> chunk;  // empty when contiguous
  bool extendable = false;
  int compression = 0;         // deflate level, 0 when none
  int64_t storage_bytes = 0;   // bytes on disk
};

class H5File {
 public:
  // Creates `path` and stamps `format_version` and `kind`. Fails if the file exists unless
  // `overwrite`; callers that replace a file should write through AtomicFile instead.
  static H5File create(const std::string& path, const std::string& kind, bool overwrite = false);
  // Opens an existing ril file. Checks, in order: the path exists; it is an HDF5 file (not
  // truncated); it has `kind` and `format_version`; the version is kFormatVersion; the kind is
  // `expected_kind` unless that is empty. Each failure names the path and the remedy.
  static H5File open(const std::string& path, const std::string& expected_kind = "",
                     OpenMode mode = OpenMode::kRead);

  H5File(H5File&&) noexcept;
  H5File& operator=(H5File&&) noexcept;
  ~H5File();

  const std::string& path() const;
  std::string kind() const;
  int64_t format_version() const;
  void flush();  // H5Fflush: data written so far reaches the OS
  void close();  // idempotent; the destructor closes too

  // Groups and objects. Paths are HDF5 paths ("a/b"); parents of a group are created.
  void create_group(const std::string& path);
  bool exists(const std::string& path) const;
  bool is_group(const std::string& path) const;
  std::vector<std::string> list(const std::string& group = "/") const;  // child names, sorted

  // Attributes on any object ("/" is the file root).
  void set_attr(const std::string& object, const std::string& name, const std::string& value);
  void set_attr(const std::string& object, const std::string& name, int64_t value);
  void set_attr(const std::string& object, const std::string& name, double value);
  bool has_attr(const std::string& object, const std::string& name) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  int64_t attr_int(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& object) const;

  // N-d arrays. `data` holds numel * element_size bytes, row-major.
  void write_array(const std::string& name, ElementType type, const std::vector<int64_t>& shape,
                   const void* data, const DatasetOptions& options = {});
  RawArray read_array(const std::string& name) const;
  // Rows [start, start+count) along dimension 0.
  RawArray read_rows(const std::string& name, int64_t start, int64_t count) const;
  // Appends rows to an extendable dataset; `row_count` rows of the dataset's row shape.
  // Returns the new number of rows.
  int64_t append_rows(const std::string& name, int64_t row_count, const void* data);
  std::vector<int64_t> shape(const std::string& name) const;
  ElementType element_type(const std::string& name) const;
  DatasetInfo dataset_info(const std::string& name) const;

  // Typed conveniences for 1-d arrays.
  template <typename T>
  void write_vector(const std::string& name, const std::vector<T>& values, const DatasetOptions& options = {});
  template <typename T>
  std::vector<T> read_vector(const std::string& name) const;

  // Text: group `name` with `bytes` (uint8) + `offsets` (int64, count+1). Always extendable.
  void write_text(const std::string& name, const std::vector<std::string>& texts);
  void append_text(const std::string& name, const std::vector<std::string>& texts);  // creates if absent
  // The same without copying the strings first (TeacherCache::append).
  void append_text_views(const std::string& name, const std::vector<std::string_view>& texts);
  std::vector<std::string> read_text(const std::string& name) const;
  std::vector<std::string> read_text(const std::string& name, int64_t start, int64_t count) const;
  int64_t text_count(const std::string& name) const;

  // Ragged int32 token ids: group `name` with `ids` (int32) + `offsets` (int64, count+1).
  void append_ragged(const std::string& name, const std::vector<std::vector<int32_t>>& rows);
  std::vector<std::vector<int32_t>> read_ragged(const std::string& name, int64_t start = 0,
                                                int64_t count = -1) const;
  int64_t ragged_count(const std::string& name) const;

  struct Impl;  // public so that src/io helpers can reach the handle; defined in src/io only

 private:
  explicit H5File(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Element type for a C++ type (float, double, int64_t, int32_t, uint8_t, uint16_t).
template <typename T>
ElementType element_type_of();
template <> inline ElementType element_type_of<float>() { return ElementType::kFloat32; }
template <> inline ElementType element_type_of<double>() { return ElementType::kFloat64; }
template <> inline ElementType element_type_of<int64_t>() { return ElementType::kInt64; }
template <> inline ElementType element_type_of<int32_t>() { return ElementType::kInt32; }
template <> inline ElementType element_type_of<uint8_t>() { return ElementType::kUInt8; }
template <> inline ElementType element_type_of<uint16_t>() { return ElementType::kUInt16; }

}  // namespace ril::io
