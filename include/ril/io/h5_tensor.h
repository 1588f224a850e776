// Tensors in the HDF5 store: any dtype the communicators carry (float32/64, bfloat16, float16,
// int64, int32, uint8, bool) and any shape, written exactly (bit patterns for the half types).
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "ril/io/h5_file.h"

namespace ril::io {

ElementType element_type_for(at::ScalarType dtype);  // throws for types the store cannot hold
at::ScalarType scalar_type_for(ElementType type);

// Writes a (CPU or CUDA) tensor; CUDA tensors are copied to the host first.
void write_tensor(H5File& file, const std::string& name, const at::Tensor& tensor,
                  const DatasetOptions& options = {});
// Reads a tensor on the CPU with the dtype and shape it was written with.
at::Tensor read_tensor(const H5File& file, const std::string& name);

}  // namespace ril::io
