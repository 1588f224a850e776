#include "ril/io/h5_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "h5_check.h"
#include "ril/common/error.h"

namespace ril::io {
namespace {

constexpr int64_t kChunkBytes = 1 << 20;  // ~1 MiB chunks: good compression, cheap partial reads
// Ragged values (text bytes, token ids) are stored without a filter in 4 MiB chunks: appends and
// reads then move only the bytes they touch (see append_rows), and text is a small part of any
// file here next to images and weights. Files written with deflate before read (and grow) as ever.
constexpr int64_t kRaggedChunkBytes = 4 << 20;

// Owns one HDF5 handle; the closer matches its kind (file, group, dataset, space, ...).
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept { *this = std::move(other); }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      std::swap(id_, other.id_);
      std::swap(closer_, other.closer_);
    }
    return *this;
  }
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

hid_t native_type(ElementType type) {
  switch (type) {
    case ElementType::kFloat32: return H5T_NATIVE_FLOAT;
    case ElementType::kFloat64: return H5T_NATIVE_DOUBLE;
    case ElementType::kInt64: return H5T_NATIVE_INT64;
    case ElementType::kInt32: return H5T_NATIVE_INT32;
    case ElementType::kUInt8:
    case ElementType::kBool: return H5T_NATIVE_UINT8;
    case ElementType::kBFloat16:
    case ElementType::kFloat16:
    case ElementType::kUInt16: return H5T_NATIVE_UINT16;
  }
  throw Error("unknown element type");
}

// Types HDF5 cannot name itself are tagged, so that a reader gets back what was written.
bool needs_tag(ElementType type) {
  return type == ElementType::kBFloat16 || type == ElementType::kFloat16 || type == ElementType::kBool;
}

ElementType type_from_name(const std::string& name, const std::string& context) {
  for (ElementType t : {ElementType::kFloat32, ElementType::kFloat64, ElementType::kBFloat16,
                        ElementType::kFloat16, ElementType::kInt64, ElementType::kInt32,
                        ElementType::kUInt8, ElementType::kBool, ElementType::kUInt16}) {
    if (name == element_type_name(t)) return t;
  }
  throw Error(cat("unknown ril_dtype '", name, "' on ", context));
}

// Property lists with object time stamps off: the same content gives the same bytes.
Handle dataset_create_plist() {
  Handle plist(RIL_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), "dataset plist"), H5Pclose);
  RIL_H5_CHECK(H5Pset_obj_track_times(plist.get(), false), "dataset plist");
  return plist;
}
Handle group_create_plist() {
  Handle plist(RIL_H5_CHECK(H5Pcreate(H5P_GROUP_CREATE), "group plist"), H5Pclose);
  RIL_H5_CHECK(H5Pset_obj_track_times(plist.get(), false), "group plist");
  return plist;
}
Handle link_create_plist() {
  Handle plist(RIL_H5_CHECK(H5Pcreate(H5P_LINK_CREATE), "link plist"), H5Pclose);
  RIL_H5_CHECK(H5Pset_create_intermediate_group(plist.get(), 1), "link plist");
  return plist;
}

std::string join(const std::string& group, const std::string& name) {
  if (group.empty() || group == "/") return name;
  return group + "/" + name;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

int64_t product(const std::vector<int64_t>& dims, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < dims.size(); ++i) n *= dims[i];
  return n;
}

}  // namespace

size_t element_size(ElementType type) {
  switch (type) {
    case ElementType::kFloat64:
    case ElementType::kInt64: return 8;
    case ElementType::kFloat32:
    case ElementType::kInt32: return 4;
    case ElementType::kBFloat16:
    case ElementType::kFloat16:
    case ElementType::kUInt16: return 2;
    case ElementType::kUInt8:
    case ElementType::kBool: return 1;
  }
  return 0;
}

const char* element_type_name(ElementType type) {
  switch (type) {
    case ElementType::kFloat32: return "float32";
    case ElementType::kFloat64: return "float64";
    case ElementType::kBFloat16: return "bfloat16";
    case ElementType::kFloat16: return "float16";
    case ElementType::kInt64: return "int64";
    case ElementType::kInt32: return "int32";
    case ElementType::kUInt8: return "uint8";
    case ElementType::kBool: return "bool";
    case ElementType::kUInt16: return "uint16";
  }
  return "?";
}

int64_t RawArray::numel() const { return product(shape); }


struct H5File::Impl {
  std::string path;
  Handle file;
  // Datasets appended to, kept open from their first append_rows() to close(): no open, type and
  // shape lookups per append (tens of microseconds each), and the extent is known. Declared after
  // `file`, so they are closed before it. Only append_rows() changes an extent within an H5File.
  struct Appender {
    Handle dataset;
    ElementType type = ElementType::kUInt8;
    std::vector<int64_t> shape;
  };
  std::map<std::string, Appender> appenders;
  std::vector<uint8_t> scratch;  // the flat rows of one ragged append, kept for the next one
  // Ragged arrays appended to: the last offset (end of the values), read once at the first
  // append and kept here, so an append reads nothing back from the file (reading the last offset
  // through the default chunk cache pulled a whole 1 MiB offsets chunk in on every append).
  std::map<std::string, int64_t> ragged_ends;

  std::string where(const std::string& object) const { return cat("'", path, "' object '", object, "'"); }

  Handle open_object(const std::string& object) const {
    return Handle(RIL_H5_CHECK(H5Oopen(file.get(), object.c_str(), H5P_DEFAULT), where(object)), H5Oclose);
  }
  Handle open_dataset(const std::string& name, bool chunk_cache = true) const {
    if (!exists(name)) throw Error(cat("dataset '", name, "' not found in '", path, "'"));
    if (chunk_cache) {
      return Handle(RIL_H5_CHECK(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), where(name)), H5Dclose);
    }
    Handle dapl(RIL_H5_CHECK(H5Pcreate(H5P_DATASET_ACCESS), where(name)), H5Pclose);
    RIL_H5_CHECK(H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0), where(name));
    return Handle(RIL_H5_CHECK(H5Dopen2(file.get(), name.c_str(), dapl.get()), where(name)), H5Dclose);
  }
  bool exists(const std::string& object) const {
    if (object.empty() || object == "/") return true;
    // H5Lexists fails on a missing intermediate: check each prefix in turn.
    size_t pos = 0;
    while (true) {
      const size_t next = object.find('/', pos);
      const std::string prefix = object.substr(0, next);
      if (!prefix.empty() && prefix != "/") {
        if (RIL_H5_CHECK(H5Lexists(file.get(), prefix.c_str(), H5P_DEFAULT), where(prefix)) <= 0) return false;
      }
      if (next == std::string::npos) return true;
      pos = next + 1;
    }
  }
  std::vector<int64_t> dims(hid_t dataset, const std::string& name) const {
    Handle space(RIL_H5_CHECK(H5Dget_space(dataset), where(name)), H5Sclose);
    const int rank = RIL_H5_CHECK(H5Sget_simple_extent_ndims(space.get()), where(name));
    std::vector<hsize_t> d(static_cast<size_t>(rank));
    if (rank > 0) RIL_H5_CHECK(H5Sget_simple_extent_dims(space.get(), d.data(), nullptr), where(name));
    return std::vector<int64_t>(d.begin(), d.end());
  }
  ElementType type_of(hid_t dataset, const std::string& name) const {
    if (RIL_H5_CHECK(H5Aexists(dataset, "ril_dtype"), where(name)) > 0) {
      return type_from_name(read_string_attr(dataset, "ril_dtype", name), where(name));
    }
    Handle type(RIL_H5_CHECK(H5Dget_type(dataset), where(name)), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    const size_t size = H5Tget_size(type.get());
    if (cls == H5T_FLOAT) {
      if (size == 4) return ElementType::kFloat32;
      if (size == 8) return ElementType::kFloat64;
    } else if (cls == H5T_INTEGER) {
      const bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
      if (size == 8 && is_signed) return ElementType::kInt64;
      if (size == 4 && is_signed) return ElementType::kInt32;
      if (size == 1 && !is_signed) return ElementType::kUInt8;
      if (size == 2 && !is_signed) return ElementType::kUInt16;
    }
    throw Error(cat("dataset ", where(name), " has an HDF5 type ril does not read (class ",
                    static_cast<int>(cls), ", ", size, " bytes)"));
  }
  std::string read_string_attr(hid_t object, const char* attr_name, const std::string& object_name) const {
    const std::string ctx = cat(where(object_name), " attribute '", attr_name, "'");
    Handle attr(RIL_H5_CHECK(H5Aopen(object, attr_name, H5P_DEFAULT), ctx), H5Aclose);
    Handle type(RIL_H5_CHECK(H5Aget_type(attr.get()), ctx), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING) throw Error(cat(ctx, " is not a string"));
    if (RIL_H5_CHECK(H5Tis_variable_str(type.get()), ctx) > 0) {  // as written by h5py
      char* value = nullptr;
      Handle mem(RIL_H5_CHECK(H5Tcopy(H5T_C_S1), ctx), H5Tclose);
      RIL_H5_CHECK(H5Tset_size(mem.get(), H5T_VARIABLE), ctx);
      // h5py writes UTF-8; HDF5 converts only between equal character sets.
      RIL_H5_CHECK(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), ctx);
      RIL_H5_CHECK(H5Aread(attr.get(), mem.get(), &value), ctx);
      std::string out = value ? value : "";
      H5free_memory(value);
      return out;
    }
    const size_t size = H5Tget_size(type.get());
    std::string buffer(size, '\0');
    RIL_H5_CHECK(H5Aread(attr.get(), type.get(), buffer.data()), ctx);
    buffer.resize(std::strlen(buffer.c_str()));
    return buffer;
  }
  void write_attr(const std::string& object, const std::string& name, hid_t type, const void* value) {
    const std::string ctx = cat(where(object), " attribute '", name, "'");
    Handle obj = open_object(object);
    if (RIL_H5_CHECK(H5Aexists(obj.get(), name.c_str()), ctx) > 0) {
      // Same type (a counter such as `committed`): overwrite the value in place; the object
      // header keeps its layout (delete + create rewrites it).
      Handle attr(RIL_H5_CHECK(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), ctx), H5Aclose);
      Handle old_type(RIL_H5_CHECK(H5Aget_type(attr.get()), ctx), H5Tclose);
      Handle old_space(RIL_H5_CHECK(H5Aget_space(attr.get()), ctx), H5Sclose);
      if (RIL_H5_CHECK(H5Tequal(old_type.get(), type), ctx) > 0 &&
          H5Sget_simple_extent_type(old_space.get()) == H5S_SCALAR) {
        RIL_H5_CHECK(H5Awrite(attr.get(), type, value), ctx);
        return;
      }
      attr.reset();
      RIL_H5_CHECK(H5Adelete(obj.get(), name.c_str()), ctx);
    }
    Handle space(RIL_H5_CHECK(H5Screate(H5S_SCALAR), ctx), H5Sclose);
    Handle attr(RIL_H5_CHECK(H5Acreate2(obj.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), ctx),
                H5Aclose);
    RIL_H5_CHECK(H5Awrite(attr.get(), type, value), ctx);
  }
  template <typename T>
  T read_numeric_attr(const std::string& object, const std::string& name, hid_t mem_type) const {
    const std::string ctx = cat(where(object), " attribute '", name, "'");
    Handle obj = open_object(object);
    if (RIL_H5_CHECK(H5Aexists(obj.get(), name.c_str()), ctx) <= 0) throw Error(cat(ctx, " is missing"));
    Handle attr(RIL_H5_CHECK(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), ctx), H5Aclose);
    T value{};
    RIL_H5_CHECK(H5Aread(attr.get(), mem_type, &value), ctx);
    return value;
  }
  // Selects rows [start, start+count) of `space` (dimension 0), all of every other dimension.
  void select_rows(hid_t space, const std::vector<int64_t>& shape, int64_t start, int64_t count,
                   const std::string& name) const {
    std::vector<hsize_t> offset(shape.size(), 0), extent(shape.begin(), shape.end());
    offset[0] = static_cast<hsize_t>(start);
    extent[0] = static_cast<hsize_t>(count);
    RIL_H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, offset.data(), nullptr, extent.data(), nullptr),
                 where(name));
  }
};

H5File::H5File(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
H5File::H5File(H5File&&) noexcept = default;
H5File& H5File::operator=(H5File&&) noexcept = default;
H5File::~H5File() = default;

H5File H5File::create(const std::string& path, const std::string& kind, bool overwrite) {
  detail::silence_hdf5_errors();
  struct stat st {};
  if (!overwrite && ::stat(path.c_str(), &st) == 0) {
    throw Error(cat("refusing to overwrite existing file '", path, "'"));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  Handle fapl(RIL_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), path), H5Pclose);
  RIL_H5_CHECK(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), path);
  impl->file = Handle(RIL_H5_CHECK(H5Fcreate(path.c_str(), overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL,
                                             H5P_DEFAULT, fapl.get()),
                                   cat("'", path, "' (create)")),
                      H5Fclose);
  H5File file(std::move(impl));
  file.set_attr("/", "format_version", kFormatVersion);
  file.set_attr("/", "kind", kind);
  return file;
}

H5File H5File::open(const std::string& path, const std::string& expected_kind, OpenMode mode) {
  detail::silence_hdf5_errors();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(cat("file not found: '", path, "'"));
  if (!S_ISREG(st.st_mode)) throw Error(cat("'", path, "' is not a regular file"));
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(cat("'", path, "' is not an HDF5 file (", st.st_size,
                    " bytes; expected a file written by ril)"));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  Handle fapl(RIL_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), path), H5Pclose);
  RIL_H5_CHECK(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), path);
  const hid_t id = H5Fopen(path.c_str(), mode == OpenMode::kRead ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.get());
  if (id < 0) {
    throw Error(cat("cannot open '", path, "': the HDF5 file is damaged or truncated (", st.st_size,
                    " bytes): ", detail::hdf5_error_stack(),
                    ". Re-create it, or restore it from a copy"));
  }
  impl->file = Handle(id, H5Fclose);
  H5File file(std::move(impl));
  if (!file.has_attr("/", "format_version") || !file.has_attr("/", "kind")) {
    throw Error(cat("'", path, "' is an HDF5 file but not a ril file: the root attributes "
                    "'format_version' and 'kind' are missing"));
  }
  const int64_t version = file.format_version();
  if (version != kFormatVersion) {
    throw Error(cat("'", path, "' has format_version ", version, " but this build of ril reads version ",
                    kFormatVersion, ": ",
                    version > kFormatVersion ? "use a newer ril to read it"
                                             : "re-create the file with this ril (e.g. rerun the stage that wrote it)"));
  }
  const std::string kind = file.kind();
  if (!expected_kind.empty() && kind != expected_kind) {
    throw Error(cat("'", path, "' is a ril '", kind, "' file, but a '", expected_kind, "' file is needed here"));
  }
  return file;
}

const std::string& H5File::path() const { return impl_->path; }
std::string H5File::kind() const { return attr_string("/", "kind"); }
int64_t H5File::format_version() const { return attr_int("/", "format_version"); }

void H5File::flush() {
  RIL_H5_CHECK(H5Fflush(impl_->file.get(), H5F_SCOPE_GLOBAL), impl_->where("/"));
}

void H5File::close() {
  if (impl_) {
    impl_->appenders.clear();
    impl_->ragged_ends.clear();
    impl_->file.reset();
  }
}

void H5File::create_group(const std::string& path) {
  if (impl_->exists(path)) {
    RIL_CHECK(is_group(path), "'", path, "' exists in '", impl_->path, "' and is not a group");
    return;
  }
  Handle lcpl = link_create_plist();
  Handle gcpl = group_create_plist();
  Handle group(RIL_H5_CHECK(H5Gcreate2(impl_->file.get(), path.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT),
                            impl_->where(path)),
               H5Gclose);
}

bool H5File::exists(const std::string& path) const { return impl_->exists(path); }

bool H5File::is_group(const std::string& path) const {
  if (!impl_->exists(path)) return false;
  // H5Oopen + H5Iget_type read the same in HDF5 1.10 and 1.14. H5Oget_info_by_name does not: a
  // 4-argument function in 1.10, a macro for the 5-argument H5Oget_info_by_name3 from 1.12 on.
  Handle object(RIL_H5_CHECK(H5Oopen(impl_->file.get(), path.c_str(), H5P_DEFAULT), impl_->where(path)), H5Oclose);
  return H5Iget_type(object.get()) == H5I_GROUP;
}

std::vector<std::string> H5File::list(const std::string& group) const {
  std::vector<std::string> names;
  Handle g(RIL_H5_CHECK(H5Gopen2(impl_->file.get(), group.c_str(), H5P_DEFAULT), impl_->where(group)), H5Gclose);
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  RIL_H5_CHECK(H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names), impl_->where(group));
  std::sort(names.begin(), names.end());
  return names;
}

void H5File::set_attr(const std::string& object, const std::string& name, const std::string& value) {
  Handle type(RIL_H5_CHECK(H5Tcopy(H5T_C_S1), impl_->where(object)), H5Tclose);
  RIL_H5_CHECK(H5Tset_size(type.get(), std::max<size_t>(1, value.size())), impl_->where(object));
  RIL_H5_CHECK(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), impl_->where(object));
  std::string padded = value;
  padded.resize(std::max<size_t>(1, value.size()), '\0');
  impl_->write_attr(object, name, type.get(), padded.data());
}

void H5File::set_attr(const std::string& object, const std::string& name, int64_t value) {
  impl_->write_attr(object, name, H5T_NATIVE_INT64, &value);
}

void H5File::set_attr(const std::string& object, const std::string& name, double value) {
  impl_->write_attr(object, name, H5T_NATIVE_DOUBLE, &value);
}

bool H5File::has_attr(const std::string& object, const std::string& name) const {
  if (!impl_->exists(object)) return false;
  Handle obj = impl_->open_object(object);
  return RIL_H5_CHECK(H5Aexists(obj.get(), name.c_str()), impl_->where(object)) > 0;
}

std::string H5File::attr_string(const std::string& object, const std::string& name) const {
  Handle obj = impl_->open_object(object);
  if (RIL_H5_CHECK(H5Aexists(obj.get(), name.c_str()), impl_->where(object)) <= 0) {
    throw Error(cat(impl_->where(object), " has no attribute '", name, "'"));
  }
  return impl_->read_string_attr(obj.get(), name.c_str(), object);
}

int64_t H5File::attr_int(const std::string& object, const std::string& name) const {
  return impl_->read_numeric_attr<int64_t>(object, name, H5T_NATIVE_INT64);
}

double H5File::attr_double(const std::string& object, const std::string& name) const {
  return impl_->read_numeric_attr<double>(object, name, H5T_NATIVE_DOUBLE);
}

std::vector<std::string> H5File::attr_names(const std::string& object) const {
  std::vector<std::string> names;
  Handle obj = impl_->open_object(object);
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  RIL_H5_CHECK(H5Aiterate2(obj.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
               impl_->where(object));
  return names;
}

void H5File::write_array(const std::string& name, ElementType type, const std::vector<int64_t>& shape,
                         const void* data, const DatasetOptions& options) {
  const std::string ctx = impl_->where(name);
  RIL_CHECK(!impl_->exists(name), "dataset ", ctx, " already exists");
  RIL_CHECK(!(options.extendable && shape.empty()), "extendable dataset ", ctx, " needs at least one dimension");
  for (int64_t d : shape) RIL_CHECK(d >= 0, "negative dimension in shape ", shape_text(shape), " for ", ctx);

  std::vector<hsize_t> dims(shape.begin(), shape.end()), max_dims = dims;
  if (options.extendable) max_dims[0] = H5S_UNLIMITED;
  Handle space(shape.empty() ? RIL_H5_CHECK(H5Screate(H5S_SCALAR), ctx)
                             : RIL_H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                                             max_dims.data()),
                                            ctx),
               H5Sclose);
  Handle dcpl = dataset_create_plist();
  const int64_t row_elems = shape.empty() ? 1 : product(shape, 1);
  const bool any_zero_row_dim = row_elems == 0;
  const bool chunked = !shape.empty() && !any_zero_row_dim &&
                       (options.extendable || (options.compression > 0 && product(shape) > 0));
  if (chunked) {
    const int64_t row_bytes = row_elems * static_cast<int64_t>(element_size(type));
    int64_t rows = options.chunk_rows > 0 ? options.chunk_rows : std::max<int64_t>(1, kChunkBytes / row_bytes);
    if (!options.extendable) rows = std::min<int64_t>(rows, std::max<int64_t>(1, shape[0]));
    std::vector<hsize_t> chunk(dims.begin(), dims.end());
    chunk[0] = static_cast<hsize_t>(rows);
    RIL_H5_CHECK(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), ctx);
    // Rows of a growing dataset are written right after the extent grows: no fill values, so a
    // new chunk need not be materialised (filled, then written whole) before the rows go in.
    if (options.extendable) RIL_H5_CHECK(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), ctx);
    if (options.compression > 0) {
      RIL_H5_CHECK(H5Pset_shuffle(dcpl.get()), ctx);
      RIL_H5_CHECK(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.compression)), ctx);
    }
  }
  Handle lcpl = link_create_plist();
  Handle dataset(RIL_H5_CHECK(H5Dcreate2(impl_->file.get(), name.c_str(), native_type(type), space.get(),
                                         lcpl.get(), dcpl.get(), H5P_DEFAULT),
                              ctx),
                 H5Dclose);
  if (product(shape) > 0) {
    RIL_CHECK(data != nullptr, "no data given for non-empty dataset ", ctx);
    RIL_H5_CHECK(H5Dwrite(dataset.get(), native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), ctx);
  }
  dataset.reset();
  if (needs_tag(type)) set_attr(name, "ril_dtype", std::string(element_type_name(type)));
}

RawArray H5File::read_array(const std::string& name) const {
  Handle dataset = impl_->open_dataset(name);
  const std::vector<int64_t> shape = impl_->dims(dataset.get(), name);
  if (shape.empty()) {  // scalar
    RawArray out;
    out.type = impl_->type_of(dataset.get(), name);
    out.bytes.resize(element_size(out.type));
    RIL_H5_CHECK(H5Dread(dataset.get(), native_type(out.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.bytes.data()),
                 impl_->where(name));
    return out;
  }
  return read_rows(name, 0, shape[0]);
}

RawArray H5File::read_rows(const std::string& name, int64_t start, int64_t count) const {
  const std::string ctx = impl_->where(name);
  Handle dataset = impl_->open_dataset(name);
  RawArray out;
  out.type = impl_->type_of(dataset.get(), name);
  const std::vector<int64_t> shape = impl_->dims(dataset.get(), name);
  RIL_CHECK(!shape.empty(), "dataset ", ctx, " is a scalar; it has no rows");
  RIL_CHECK(start >= 0 && count >= 0 && start + count <= shape[0], "rows [", start, ", ", start + count,
            ") out of range for dataset ", ctx, " with ", shape[0], " rows");
  out.shape = shape;
  out.shape[0] = count;
  out.bytes.resize(static_cast<size_t>(out.numel()) * element_size(out.type));
  if (out.bytes.empty()) return out;
  Handle file_space(RIL_H5_CHECK(H5Dget_space(dataset.get()), ctx), H5Sclose);
  impl_->select_rows(file_space.get(), shape, start, count, name);
  std::vector<hsize_t> mem_dims(out.shape.begin(), out.shape.end());
  Handle mem_space(RIL_H5_CHECK(H5Screate_simple(static_cast<int>(mem_dims.size()), mem_dims.data(), nullptr), ctx),
                   H5Sclose);
  RIL_H5_CHECK(H5Dread(dataset.get(), native_type(out.type), mem_space.get(), file_space.get(), H5P_DEFAULT,
                       out.bytes.data()),
               ctx);
  return out;
}

int64_t H5File::append_rows(const std::string& name, int64_t row_count, const void* data) {
  // The context text is built only when a check fails (RIL_H5_CHECK evaluates it lazily).
  const auto ctx = [&] { return impl_->where(name); };
  // Without a chunk cache an unfiltered chunk is written in place: only the new rows reach the
  // file, and nothing is read back (with the default 1 MiB cache a partly filled chunk is read,
  // patched and written whole on every append). Filtered chunks (deflate: files written before)
  // still go through a chunk buffer, as before.
  auto it = impl_->appenders.find(name);
  if (it == impl_->appenders.end()) {
    Impl::Appender a;
    a.dataset = impl_->open_dataset(name, /*chunk_cache=*/false);
    a.shape = impl_->dims(a.dataset.get(), name);
    RIL_CHECK(!a.shape.empty(), "cannot append to scalar dataset ", impl_->where(name));
    a.type = impl_->type_of(a.dataset.get(), name);
    it = impl_->appenders.emplace(name, std::move(a)).first;
  }
  Impl::Appender& a = it->second;
  if (row_count == 0) return a.shape[0];
  const int64_t old_rows = a.shape[0];
  std::vector<hsize_t> new_dims(a.shape.begin(), a.shape.end());
  new_dims[0] = static_cast<hsize_t>(old_rows + row_count);
  if (H5Dset_extent(a.dataset.get(), new_dims.data()) < 0) {
    throw Error(cat("cannot grow dataset ", ctx(), " (is it extendable?): ", detail::hdf5_error_stack()));
  }
  a.shape[0] = old_rows + row_count;
  Handle file_space(RIL_H5_CHECK(H5Dget_space(a.dataset.get()), ctx()), H5Sclose);
  impl_->select_rows(file_space.get(), a.shape, old_rows, row_count, name);
  std::vector<hsize_t> mem_dims = new_dims;
  mem_dims[0] = static_cast<hsize_t>(row_count);
  Handle mem_space(RIL_H5_CHECK(H5Screate_simple(static_cast<int>(mem_dims.size()), mem_dims.data(), nullptr), ctx()),
                   H5Sclose);
  RIL_H5_CHECK(H5Dwrite(a.dataset.get(), native_type(a.type), mem_space.get(), file_space.get(), H5P_DEFAULT, data),
               ctx());
  return a.shape[0];
}

std::vector<int64_t> H5File::shape(const std::string& name) const {
  Handle dataset = impl_->open_dataset(name);
  return impl_->dims(dataset.get(), name);
}

ElementType H5File::element_type(const std::string& name) const {
  Handle dataset = impl_->open_dataset(name);
  return impl_->type_of(dataset.get(), name);
}

DatasetInfo H5File::dataset_info(const std::string& name) const {
  const std::string ctx = impl_->where(name);
  Handle dataset = impl_->open_dataset(name);
  DatasetInfo info;
  info.type = impl_->type_of(dataset.get(), name);
  info.shape = impl_->dims(dataset.get(), name);
  info.storage_bytes = static_cast<int64_t>(H5Dget_storage_size(dataset.get()));
  Handle space(RIL_H5_CHECK(H5Dget_space(dataset.get()), ctx), H5Sclose);
  if (!info.shape.empty()) {
    std::vector<hsize_t> max_dims(info.shape.size());
    RIL_H5_CHECK(H5Sget_simple_extent_dims(space.get(), nullptr, max_dims.data()), ctx);
    info.extendable = max_dims[0] == H5S_UNLIMITED;
  }
  Handle dcpl(RIL_H5_CHECK(H5Dget_create_plist(dataset.get()), ctx), H5Pclose);
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(info.shape.size());
    RIL_H5_CHECK(H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), ctx);
    info.chunk.assign(chunk.begin(), chunk.end());
    const int filters = RIL_H5_CHECK(H5Pget_nfilters(dcpl.get()), ctx);
    for (int i = 0; i < filters; ++i) {
      unsigned flags = 0, values[4] = {0, 0, 0, 0};
      size_t value_count = 4;
      const H5Z_filter_t filter =
          H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &value_count, values, 0, nullptr, nullptr);
      if (filter == H5Z_FILTER_DEFLATE) info.compression = value_count > 0 ? static_cast<int>(values[0]) : 1;
    }
  }
  return info;
}

template <typename T>
void H5File::write_vector(const std::string& name, const std::vector<T>& values, const DatasetOptions& options) {
  write_array(name, element_type_of<T>(), {static_cast<int64_t>(values.size())}, values.data(), options);
}

template <typename T>
std::vector<T> H5File::read_vector(const std::string& name) const {
  const RawArray raw = read_array(name);
  RIL_CHECK(raw.type == element_type_of<T>(), "dataset ", impl_->where(name), " holds ",
            element_type_name(raw.type), ", not ", element_type_name(element_type_of<T>()));
  return std::vector<T>(raw.as<T>(), raw.as<T>() + raw.numel());
}

#define RIL_INSTANTIATE_VECTOR_IO(T)                                                                  \
  template void H5File::write_vector<T>(const std::string&, const std::vector<T>&, const DatasetOptions&); \
  template std::vector<T> H5File::read_vector<T>(const std::string&) const;
RIL_INSTANTIATE_VECTOR_IO(float)
RIL_INSTANTIATE_VECTOR_IO(double)
RIL_INSTANTIATE_VECTOR_IO(int64_t)
RIL_INSTANTIATE_VECTOR_IO(int32_t)
RIL_INSTANTIATE_VECTOR_IO(uint8_t)
RIL_INSTANTIATE_VECTOR_IO(uint16_t)
#undef RIL_INSTANTIATE_VECTOR_IO

// ---- ragged storage: `<name>/<values>` flat + `<name>/offsets` (count+1, starts at 0) ----
namespace {

struct RaggedLayout {
  const char* values;
  ElementType type;
};
constexpr RaggedLayout kTextLayout{"bytes", ElementType::kUInt8};
constexpr RaggedLayout kIdsLayout{"ids", ElementType::kInt32};

void ensure_ragged(H5File& file, const std::string& name, const RaggedLayout& layout) {
  if (file.exists(name)) return;
  file.create_group(name);
  DatasetOptions grow;
  grow.extendable = true;
  grow.compression = 0;
  grow.chunk_rows = kRaggedChunkBytes / static_cast<int64_t>(element_size(layout.type));
  file.write_array(join(name, layout.values), layout.type, {0}, nullptr, grow);
  grow.chunk_rows = 0;  // ~1 MiB of offsets
  const int64_t zero = 0;
  file.write_array(join(name, "offsets"), ElementType::kInt64, {1}, &zero, grow);
}

// Appends `rows` given as (pointer, length) element spans; `flat` is scratch space for the
// concatenated values (H5File::Impl::scratch: reused, so no fresh pages per append); `ends` holds
// the last offset of each ragged array appended to in this H5File (H5File::Impl::ragged_ends).
template <typename Span>
void append_ragged_spans(H5File& file, const std::string& name, const RaggedLayout& layout,
                         const std::vector<Span>& rows, std::vector<uint8_t>& flat,
                         std::map<std::string, int64_t>& ends) {
  const std::string offsets_name = join(name, "offsets");
  auto known = ends.find(name);
  if (known == ends.end()) {
    ensure_ragged(file, name, layout);
    const int64_t count = file.shape(offsets_name)[0] - 1;
    const RawArray last = file.read_rows(offsets_name, count, 1);
    known = ends.emplace(name, *last.as<int64_t>()).first;
  }
  int64_t end = known->second;
  std::vector<int64_t> offsets;
  offsets.reserve(rows.size());
  const size_t esize = element_size(layout.type);
  size_t total = 0;
  for (const Span& row : rows) total += row.second * esize;
  flat.resize(total);
  size_t at = 0;
  for (const Span& row : rows) {
    if (row.second > 0) std::memcpy(flat.data() + at, row.first, row.second * esize);
    at += row.second * esize;
    end += static_cast<int64_t>(row.second);
    offsets.push_back(end);
  }
  // Forgotten until both writes went through: a failed append re-reads the file next time.
  ends.erase(known);
  file.append_rows(join(name, layout.values), static_cast<int64_t>(total / esize), flat.data());
  file.append_rows(offsets_name, static_cast<int64_t>(offsets.size()), offsets.data());
  ends[name] = end;
}

int64_t ragged_rows(const H5File& file, const std::string& name) {
  RIL_CHECK(file.exists(join(name, "offsets")), "'", name, "' in '", file.path(),
            "' is not a ril ragged array (no offsets dataset)");
  return file.shape(join(name, "offsets"))[0] - 1;
}

// Reads rows [start, start+count): returns the flat values and the row boundaries, rebased to 0.
std::pair<RawArray, std::vector<int64_t>> read_ragged_raw(const H5File& file, const std::string& name,
                                                          const RaggedLayout& layout, int64_t start, int64_t count) {
  const int64_t total = ragged_rows(file, name);
  if (count < 0) count = total - start;
  RIL_CHECK(start >= 0 && start + count <= total, "rows [", start, ", ", start + count, ") out of range for '", name,
            "' in '", file.path(), "' with ", total, " rows");
  const RawArray raw_offsets = file.read_rows(join(name, "offsets"), start, count + 1);
  std::vector<int64_t> offsets(raw_offsets.as<int64_t>(), raw_offsets.as<int64_t>() + count + 1);
  const int64_t base = offsets.front();
  for (int64_t& o : offsets) o -= base;
  RIL_CHECK(offsets.back() >= 0, "offsets of '", name, "' in '", file.path(), "' are not increasing");
  RawArray values = file.read_rows(join(name, layout.values), base, offsets.back());
  return {std::move(values), std::move(offsets)};
}

}  // namespace

void H5File::write_text(const std::string& name, const std::vector<std::string>& texts) {
  RIL_CHECK(!exists(name), "text '", name, "' already exists in '", impl_->path, "'");
  append_text(name, texts);
}

void H5File::append_text(const std::string& name, const std::vector<std::string>& texts) {
  std::vector<std::pair<const void*, size_t>> spans;
  spans.reserve(texts.size());
  for (const std::string& t : texts) spans.emplace_back(t.data(), t.size());
  append_ragged_spans(*this, name, kTextLayout, spans, impl_->scratch, impl_->ragged_ends);
}

void H5File::append_text_views(const std::string& name, const std::vector<std::string_view>& texts) {
  std::vector<std::pair<const void*, size_t>> spans;
  spans.reserve(texts.size());
  for (const std::string_view& t : texts) spans.emplace_back(t.data(), t.size());
  append_ragged_spans(*this, name, kTextLayout, spans, impl_->scratch, impl_->ragged_ends);
}

std::vector<std::string> H5File::read_text(const std::string& name) const { return read_text(name, 0, -1); }

std::vector<std::string> H5File::read_text(const std::string& name, int64_t start, int64_t count) const {
  auto [bytes, offsets] = read_ragged_raw(*this, name, kTextLayout, start, count);
  std::vector<std::string> out;
  out.reserve(offsets.size() - 1);
  const char* base = reinterpret_cast<const char*>(bytes.bytes.data());
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    RIL_CHECK(offsets[i + 1] >= offsets[i], "offsets of text '", name, "' in '", impl_->path,
              "' decrease at row ", start + static_cast<int64_t>(i));
    out.emplace_back(base + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i]));
  }
  return out;
}

int64_t H5File::text_count(const std::string& name) const { return ragged_rows(*this, name); }

void H5File::append_ragged(const std::string& name, const std::vector<std::vector<int32_t>>& rows) {
  std::vector<std::pair<const void*, size_t>> spans;
  spans.reserve(rows.size());
  for (const auto& r : rows) spans.emplace_back(r.data(), r.size());
  append_ragged_spans(*this, name, kIdsLayout, spans, impl_->scratch, impl_->ragged_ends);
}

std::vector<std::vector<int32_t>> H5File::read_ragged(const std::string& name, int64_t start, int64_t count) const {
  auto [ids, offsets] = read_ragged_raw(*this, name, kIdsLayout, start, count);
  std::vector<std::vector<int32_t>> out;
  out.reserve(offsets.size() - 1);
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    RIL_CHECK(offsets[i + 1] >= offsets[i], "offsets of '", name, "' in '", impl_->path, "' decrease at row ",
              start + static_cast<int64_t>(i));
    out.emplace_back(ids.as<int32_t>() + offsets[i], ids.as<int32_t>() + offsets[i + 1]);
  }
  return out;
}

int64_t H5File::ragged_count(const std::string& name) const { return ragged_rows(*this, name); }

}  // namespace ril::io
