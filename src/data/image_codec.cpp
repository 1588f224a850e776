#include "ril/data/image_codec.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "ril/common/error.h"
#include "ril/io/atomic_file.h"

namespace ril::data {

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& what) {
  RIL_CHECK(!bytes.empty(), "cannot decode image ", what, ": the file is empty");
  RIL_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "image ", what, " is too large");
  int width = 0, height = 0, channels = 0;
  stbi_uc* pixels = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels, 3);
  if (pixels == nullptr) throw Error(cat("cannot decode image ", what, ": ", stbi_failure_reason()));
  std::vector<uint8_t> data(pixels, pixels + static_cast<size_t>(width) * height * 3);
  stbi_image_free(pixels);
  return Image(height, width, std::move(data));
}

Image read_image_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked before reading
  // (a directory, FIFO or device is a bad image path, not a reason to block or abort).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(cat("cannot open image ", path, ": ", std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(cat("cannot stat image ", path, ": ", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) {
    throw Error(cat("image ", path, " is not a file (it is ",
                    S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a special file", ")"));
  }
  constexpr off_t kMaxImageBytes = off_t{1} << 30;
  if (st.st_size > kMaxImageBytes) throw Error(cat("image ", path, " is too large (", st.st_size, " bytes)"));
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(cat("cannot read image ", path, ": ", std::strerror(errno)));
    if (n == 0) break;  // shrank while reading
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return decode_image(bytes, path);
}

ResizeMode parse_resize_mode(const std::string& name) {
  if (name == "stretch") return ResizeMode::kStretch;
  if (name == "pad") return ResizeMode::kPad;
  throw ConfigError(cat("unknown resize mode '", name, "' (expected stretch or pad)"));
}

namespace {

Image resample(const Image& image, int height, int width) {
  if (image.height() == height && image.width() == width) return image;
  Image out(height, width);
  const int ok = stbir_resize_uint8(image.bytes().data(), image.width(), image.height(), 0, out.bytes().data(), width,
                                    height, 0, 3);
  RIL_CHECK(ok == 1, "resizing a ", image.height(), "x", image.width(), " image to ", height, "x", width, " failed");
  return out;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

Image resize_image(const Image& image, int height, int width, ResizeMode mode) {
  RIL_CHECK(height > 0 && width > 0, "resize target must be positive, got ", height, "x", width);
  if (mode == ResizeMode::kStretch) return resample(image, height, width);
  // Fit inside the target, keeping the aspect ratio.
  const double scale = std::min(static_cast<double>(height) / image.height(), static_cast<double>(width) / image.width());
  const int h = std::max(1, std::min(height, static_cast<int>(image.height() * scale + 0.5)));
  const int w = std::max(1, std::min(width, static_cast<int>(image.width() * scale + 0.5)));
  Image inner = resample(image, h, w);
  Image out(height, width, Rgb{0, 0, 0});
  out.blit(inner, (height - h) / 2, (width - w) / 2);
  return out;
}

std::vector<uint8_t> encode_png(const Image& image) {
  std::vector<uint8_t> out;
  const int ok = stbi_write_png_to_func(append_bytes, &out, image.width(), image.height(), 3, image.bytes().data(),
                                        image.width() * 3);
  RIL_CHECK(ok != 0, "PNG encoding of a ", image.height(), "x", image.width(), " image failed");
  return out;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  std::vector<uint8_t> out;
  const int ok = stbi_write_jpg_to_func(append_bytes, &out, image.width(), image.height(), 3, image.bytes().data(),
                                        quality);
  RIL_CHECK(ok != 0, "JPEG encoding of a ", image.height(), "x", image.width(), " image failed");
  return out;
}

void write_png(const Image& image, const std::string& path) {
  const std::vector<uint8_t> bytes = encode_png(image);
  io::AtomicFile atomic(path);
  {
    std::ofstream out(atomic.temp_path(), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw Error(cat("cannot write PNG ", atomic.temp_path(), ": ", std::strerror(errno)));
  }
  atomic.commit();
}

}  // namespace ril::data
