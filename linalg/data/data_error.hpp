#pragma once

#include <stdexcept>
#include <string>

namespace paramserv {

/// Thrown by every data loader for a missing or malformed input. what() is a
/// single line that names the file and the position, e.g.
/// `data.csv:12: field 3: not a number: "abc"` or
/// `train-images-idx3-ubyte.gz: byte 16: truncated: ...`.
class data_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace paramserv
