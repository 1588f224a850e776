#include "ril/io/h5_tensor.h"

#include "ril/common/error.h"

namespace ril::io {

ElementType element_type_for(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return ElementType::kFloat32;
    case at::kDouble: return ElementType::kFloat64;
    case at::kBFloat16: return ElementType::kBFloat16;
    case at::kHalf: return ElementType::kFloat16;
    case at::kLong: return ElementType::kInt64;
    case at::kInt: return ElementType::kInt32;
    case at::kByte: return ElementType::kUInt8;
    case at::kBool: return ElementType::kBool;
    default: throw Error(cat("the HDF5 store cannot hold tensors of dtype ", c10::toString(dtype)));
  }
}

at::ScalarType scalar_type_for(ElementType type) {
  switch (type) {
    case ElementType::kFloat32: return at::kFloat;
    case ElementType::kFloat64: return at::kDouble;
    case ElementType::kBFloat16: return at::kBFloat16;
    case ElementType::kFloat16: return at::kHalf;
    case ElementType::kInt64: return at::kLong;
    case ElementType::kInt32: return at::kInt;
    case ElementType::kUInt8: return at::kByte;
    case ElementType::kBool: return at::kBool;
    case ElementType::kUInt16: break;  // LibTorch 1.13 has no uint16
  }
  throw Error(cat("no tensor dtype for stored type ", element_type_name(type)));
}

void write_tensor(H5File& file, const std::string& name, const at::Tensor& tensor, const DatasetOptions& options) {
  const at::Tensor host = tensor.to(at::kCPU).contiguous();
  const std::vector<int64_t> shape(host.sizes().begin(), host.sizes().end());
  file.write_array(name, element_type_for(host.scalar_type()), shape, host.data_ptr(), options);
}

at::Tensor read_tensor(const H5File& file, const std::string& name) {
  RawArray raw = file.read_array(name);
  at::Tensor out = at::empty(raw.shape, at::TensorOptions().dtype(scalar_type_for(raw.type)));
  RIL_CHECK(static_cast<size_t>(out.nbytes()) == raw.bytes.size(), "size mismatch reading tensor '", name,
            "' from '", file.path(), "'");
  if (!raw.bytes.empty()) std::memcpy(out.data_ptr(), raw.bytes.data(), raw.bytes.size());
  return out;
}

}  // namespace ril::io
