// The one wire format for host data between ranks (responses, scores, statistics, eval answers,
// teacher rows, error texts): a flat byte string written field by field.
//   scalar   its bytes in host order (the ranks of one job share an architecture)
//   string   int64 length, then the bytes (any content: UTF-8, NUL, invalid UTF-8 alike)
//   vector   int64 count, then the elements (trivially copyable ones as one block)
//   texts    a vector of strings: int64 count, then each string as above
// A reader that runs past the end, or finds a negative or absurd length, throws ril::Error
// naming the offset: a truncated or foreign buffer is never read as data.
// Host messages travel with host_messages.h over host communicators (MPI or local, never NCCL).
// Which ranks call: any; no communication.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace ril::dist {

class ByteWriter {
 public:
  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "ByteWriter::put takes trivially copyable values");
    put_bytes(&value, sizeof(T));
  }
  void put_bytes(const void* data, size_t size) { bytes_.append(static_cast<const char*>(data), size); }
  void put_string(const std::string& text);
  template <typename T>
  void put_vector(const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>, "ByteWriter::put_vector takes trivially copyable values");
    put<int64_t>(static_cast<int64_t>(values.size()));
    if (!values.empty()) put_bytes(values.data(), values.size() * sizeof(T));
  }
  void put_texts(const std::vector<std::string>& texts);

  const std::string& bytes() const { return bytes_; }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class ByteReader {
 public:
  // Keeps a reference: `bytes` must outlive the reader.
  explicit ByteReader(const std::string& bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>, "ByteReader::get takes trivially copyable values");
    T value;
    get_bytes(&value, sizeof(T));
    return value;
  }
  void get_bytes(void* out, size_t size);
  std::string get_string();
  template <typename T>
  std::vector<T> get_vector() {
    const int64_t n = get_count(sizeof(T));
    std::vector<T> values(static_cast<size_t>(n));
    if (n > 0) get_bytes(values.data(), values.size() * sizeof(T));
    return values;
  }
  std::vector<std::string> get_texts();

  bool done() const { return at_ == bytes_.size(); }
  // Throws ril::Error naming `what` when bytes are left over.
  void expect_done(const char* what) const;

 private:
  // An element count that fits in what is left (elements of `element_size` bytes).
  int64_t get_count(size_t element_size);
  const std::string& bytes_;
  size_t at_ = 0;
};

// A list of texts as one byte string (the `texts` layout above) and back.
std::string pack_texts(const std::vector<std::string>& texts);
std::vector<std::string> unpack_texts(const std::string& bytes);

}  // namespace ril::dist
