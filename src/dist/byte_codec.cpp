#include "ril/dist/byte_codec.h"

#include "ril/common/error.h"

namespace ril::dist {

void ByteWriter::put_string(const std::string& text) {
  put<int64_t>(static_cast<int64_t>(text.size()));
  put_bytes(text.data(), text.size());
}

void ByteWriter::put_texts(const std::vector<std::string>& texts) {
  put<int64_t>(static_cast<int64_t>(texts.size()));
  for (const std::string& t : texts) put_string(t);
}

void ByteReader::get_bytes(void* out, size_t size) {
  if (size > bytes_.size() - at_) {
    throw Error(cat("host message truncated: need ", size, " bytes at offset ", at_, " of ", bytes_.size(), " [rank ",
                    error_rank(), "]"));
  }
  if (size > 0) std::memcpy(out, bytes_.data() + at_, size);
  at_ += size;
}

int64_t ByteReader::get_count(size_t element_size) {
  const size_t at = at_;
  const int64_t n = get<int64_t>();
  const size_t left = bytes_.size() - at_;
  if (n < 0 || static_cast<uint64_t>(n) > left / (element_size == 0 ? 1 : element_size)) {
    throw Error(cat("host message: bad count ", n, " at offset ", at, " (", left, " bytes left) [rank ", error_rank(),
                    "]"));
  }
  return n;
}

std::string ByteReader::get_string() {
  const int64_t n = get_count(1);
  std::string text(static_cast<size_t>(n), '\0');
  get_bytes(text.data(), text.size());
  return text;
}

std::vector<std::string> ByteReader::get_texts() {
  // Every text needs at least its 8-byte length: a count beyond that is malformed.
  const int64_t n = get_count(sizeof(int64_t));
  std::vector<std::string> texts;
  texts.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) texts.push_back(get_string());
  return texts;
}

void ByteReader::expect_done(const char* what) const {
  if (!done()) {
    throw Error(cat(what, ": ", bytes_.size() - at_, " unread bytes at offset ", at_, " of ", bytes_.size(),
                    " [rank ", error_rank(), "]"));
  }
}

std::string pack_texts(const std::vector<std::string>& texts) {
  ByteWriter out;
  out.put_texts(texts);
  return out.take();
}

std::vector<std::string> unpack_texts(const std::string& bytes) {
  ByteReader in(bytes);
  std::vector<std::string> texts = in.get_texts();
  in.expect_done("texts");
  return texts;
}

}  // namespace ril::dist
