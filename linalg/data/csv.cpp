#include "linalg/data/load.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "linalg/data/data_error.hpp"

namespace paramserv {

namespace {

template <class... Ts>
[[noreturn]] void fail(const Ts&... xs) {
  std::ostringstream out;
  (out << ... << xs);
  throw data_error{out.str()};
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back()))
    s.remove_suffix(1);
  return s;
}

// Splits `line` at commas into trimmed fields.
void split(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  for (;;) {
    const auto* comma
      = static_cast<const char*>(std::memchr(line.data(), ',', line.size()));
    if (comma == nullptr) {
      fields.push_back(trim(line));
      return;
    }
    auto len = static_cast<size_t>(comma - line.data());
    fields.push_back(trim(line.substr(0, len)));
    line.remove_prefix(len + 1);
  }
}

bool is_number(std::string_view field) {
  float ignored;
  return detail::parse_float(field, ignored) == nullptr;
}

// Accepts non-negative integers, also written as "+3" or "3.0".
bool parse_label(std::string_view field, uint32_t& out) {
  if (!field.empty() && field.front() == '+')
    field.remove_prefix(1);
  if (field.empty() || field.front() == '-')
    return false;
  double value = 0;
  const auto* last = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), last, value);
  if (ec != std::errc{} || ptr != last || !(value >= 0.0)
      || value > 4294967294.0 || std::floor(value) != value)
    return false;
  out = static_cast<uint32_t>(value);
  return true;
}

} // namespace

dataset load_csv(const std::string& path, const load_options& opts) {
  const auto text = detail::read_file(path);
  // Samples are columns of x, so a row's features are contiguous there too:
  // they are appended in file order and copied into the matrix at the end.
  std::vector<float> values;
  std::vector<uint32_t> labels;
  std::vector<std::string_view> fields;
  size_t n_fields = 0;
  bool first = true;
  uint32_t max_label = 0;
  detail::line_reader lines{text};
  while (lines.next()) {
    const auto line = lines.line();
    const auto line_no = lines.line_no();
    if (trim(line).empty())
      continue;
    split(line, fields);
    if (first) {
      first = false;
      n_fields = fields.size();
      if (opts.label_column >= n_fields)
        fail(path, ":", line_no, ": label column ", opts.label_column,
          " (zero-based) does not exist: the line has ", n_fields, " fields");
      if (n_fields < 2)
        fail(path, ":", line_no,
          ": no feature columns: the line has only a label");
      if (opts.features != 0 && n_fields - 1 != opts.features)
        fail(path, ":", line_no, ": ", n_fields - 1, " features, expected ",
          opts.features);
      auto header = opts.csv_header
                      ? *opts.csv_header
                      : !std::all_of(fields.begin(), fields.end(), is_number);
      // Reserve for every remaining line, so values never reallocates.
      auto rest = lines.rest();
      auto rows
        = static_cast<size_t>(std::count(rest.begin(), rest.end(), '\n')) + 1;
      values.reserve(rows * (n_fields - 1));
      labels.reserve(rows);
      if (header)
        continue;
    }
    if (fields.size() != n_fields)
      fail(path, ":", line_no, ": expected ", n_fields, " fields, got ",
        fields.size());
    for (size_t i = 0; i < n_fields; ++i) {
      auto field = fields[i];
      if (i == opts.label_column) {
        uint32_t label = 0;
        if (!parse_label(field, label))
          fail(path, ":", line_no, ": field ", i + 1,
            ": label is not a non-negative integer: ", detail::quote(field));
        if (opts.classes != 0 && label >= opts.classes)
          fail(path, ":", line_no, ": field ", i + 1, ": label ", label,
            " is out of range for ", opts.classes, " classes");
        labels.push_back(label);
        max_label = std::max(max_label, label);
      } else {
        float value = 0;
        if (const auto* what = detail::parse_float(field, value))
          fail(path, ":", line_no, ": field ", i + 1, ": ", what, ": ",
            detail::quote(field));
        values.push_back(value);
      }
    }
  }
  if (first)
    fail(path, ": empty file: no data rows");
  if (labels.empty())
    fail(path, ": no data rows after the header");
  dataset ds;
  ds.x = arma::fmat(values.data(), n_fields - 1, labels.size());
  ds.y = std::move(labels);
  ds.classes = opts.classes != 0 ? opts.classes : max_label + 1;
  return ds;
}

} // namespace paramserv
