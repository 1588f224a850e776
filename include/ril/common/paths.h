// File-system questions asked before opening anything (no exceptions: a missing or unreadable
// path is simply "not there"). Which ranks call: any.
#pragma once

#include <string>

namespace ril {

bool path_exists(const std::string& path);   // stat() succeeds (file, directory or other)
bool is_directory(const std::string& path);  // stat() succeeds and it is a directory

}  // namespace ril
