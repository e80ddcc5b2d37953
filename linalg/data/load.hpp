#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "linalg/data/dataset.hpp"

#include "linalg/core/names.hpp"

namespace paramserv {

/// On-disk formats that paramserv reads.
enum class data_format {
  /// MNIST-style IDX: an images file (magic 0x00000803, ubyte, 3 dims) and a
  /// labels file (magic 0x00000801), each plain or gzip-compressed.
  idx,
  /// Text, one sample per line: a label column plus numeric features,
  /// comma-separated, optional header line.
  csv,
  /// LIBSVM / SVMlight text: `label idx:val idx:val ...`, 1-based indices.
  libsvm,
};

template <>
struct enum_names<data_format> {
  static constexpr std::string_view what = "format";
  static constexpr std::array table{
    std::pair{data_format::idx, "idx"},
    std::pair{data_format::csv, "csv"},
    std::pair{data_format::libsvm, "libsvm"},
  };
};

/// Options for reading a data set. Plain struct; defaults in-class.
struct load_options {
  /// Number of classes. 0 infers it: 10 for IDX, max label + 1 otherwise.
  /// A label >= classes is an error. Default: 0.
  uint32_t classes = 0;

  /// Number of features. 0 infers it (LIBSVM: largest index seen). A
  /// sample with more features is an error. Default: 0.
  size_t features = 0;

  /// CSV: zero-based column that holds the label. Default: 0.
  size_t label_column = 0;

  /// CSV: whether the first line is a header. Unset means: detect (the first
  /// line is a header if any of its fields is not a number). Default: unset.
  std::optional<bool> csv_header;
};

/// Loads a data set. `path` is:
/// - for IDX, a directory holding `<split>-images-idx3-ubyte[.gz]` and
///   `<split>-labels-idx1-ubyte[.gz]` (split is "train" or "t10k", chosen by
///   `test_split`), or the path of an images file, whose labels file is the
///   same name with `images-idx3` replaced by `labels-idx1`;
/// - for CSV and LIBSVM, the file.
/// Without a format, a directory or a name containing "idx" means IDX, a
/// `.csv` suffix CSV, and `.svm`, `.libsvm`, `.txt` LIBSVM (a trailing `.gz`
/// is ignored for this); anything else is an error.
/// @throws data_error with one line naming the file and position.
dataset load_dataset(const std::string& path, std::optional<data_format> fmt,
  const load_options& opts, bool test_split = false);

/// Loads an IDX images/labels pair (each plain or gzip).
/// Pixel values are stored as floats 0..255 (unscaled).
dataset load_idx(const std::string& images, const std::string& labels,
  const load_options& opts);

/// Loads a CSV file (see data_format::csv).
dataset load_csv(const std::string& path, const load_options& opts);

/// Loads a LIBSVM file into a dense data set. Labels must be integers; the
/// label set {-1, +1} maps to {0, 1}.
dataset load_libsvm(const std::string& path, const load_options& opts);

namespace detail {

/// Reads a whole file, plain or gzip-compressed, into memory. Shared by the
/// text loaders.
/// @throws data_error naming the file if it cannot be opened or read.
std::string read_file(const std::string& path);

/// Returns `text` in double quotes, shortened for a one-line error message.
std::string quote(std::string_view text);

/// Parses all of `text` as a finite float with std::from_chars (locale-free;
/// a leading '+' is accepted; magnitudes below the float range round to
/// zero). Returns nullptr on success, else what is wrong, e.g. "not a number".
const char* parse_float(std::string_view text, float& out);

/// Splits a text buffer into lines at '\n' for the text loaders. A '\r'
/// before the '\n' stays in the line, a last line without '\n' counts, and
/// an empty text has no lines. Holds views into the buffer, which must
/// outlive the reader.
///
///     detail::line_reader lines{text};
///     while (lines.next())
///       use(lines.line(), lines.line_no());
class line_reader {
public:
  explicit line_reader(std::string_view text) : rest_(text) {}

  /// Moves to the next line; returns false when there is none.
  bool next() {
    if (rest_.empty())
      return false;
    auto nl = rest_.find('\n');
    line_ = rest_.substr(0, nl);
    rest_.remove_prefix(nl == std::string_view::npos ? rest_.size() : nl + 1);
    ++line_no_;
    return true;
  }

  /// The current line, without its '\n'.
  std::string_view line() const {
    return line_;
  }

  /// The number of the current line, 1-based.
  size_t line_no() const {
    return line_no_;
  }

  /// The text after the current line and its '\n'.
  std::string_view rest() const {
    return rest_;
  }

private:
  std::string_view rest_;
  std::string_view line_;
  size_t line_no_ = 0;
};

} // namespace detail

} // namespace paramserv
