#include "tensor_wire.h"

#include "ril/common/error.h"

namespace ril::dist::detail {
namespace {
constexpr at::ScalarType kWireTypes[] = {at::kFloat, at::kDouble, at::kBFloat16, at::kHalf,
                                         at::kLong,  at::kInt,    at::kByte,     at::kBool};
}

WireHeader make_header(const at::Tensor& tensor) {
  WireHeader header{};
  header.fill(0);
  int64_t code = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(std::size(kWireTypes)); ++i) {
    if (kWireTypes[i] == tensor.scalar_type()) code = i;
  }
  RIL_CHECK(code >= 0, "communicators do not carry tensors of dtype ", c10::toString(tensor.scalar_type()));
  RIL_CHECK(tensor.dim() <= kMaxDims, "communicators carry tensors of at most ", kMaxDims, " dims, got ",
            tensor.dim());
  header[0] = code;
  header[1] = tensor.dim();
  for (int64_t d = 0; d < tensor.dim(); ++d) header[2 + d] = tensor.size(d);
  return header;
}

at::ScalarType header_dtype(const WireHeader& header) {
  RIL_CHECK(header[0] >= 0 && header[0] < static_cast<int64_t>(std::size(kWireTypes)),
            "corrupt tensor header: dtype code ", header[0]);
  return kWireTypes[header[0]];
}

std::vector<int64_t> header_shape(const WireHeader& header) {
  RIL_CHECK(header[1] >= 0 && header[1] <= kMaxDims, "corrupt tensor header: ndim ", header[1]);
  return std::vector<int64_t>(header.begin() + 2, header.begin() + 2 + header[1]);
}

std::string describe_header(const WireHeader& header) {
  std::string text = cat(c10::toString(header_dtype(header)), "[");
  const auto shape = header_shape(header);
  for (size_t i = 0; i < shape.size(); ++i) text += cat(i ? "," : "", shape[i]);
  return text + "]";
}

at::Tensor empty_from_header(const WireHeader& header, const at::Device& device) {
  return at::empty(header_shape(header), at::TensorOptions().dtype(header_dtype(header)).device(device));
}

}  // namespace ril::dist::detail
