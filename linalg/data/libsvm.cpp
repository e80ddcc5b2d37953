#include "linalg/data/load.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <vector>

#include "linalg/data/data_error.hpp"

namespace paramserv {

namespace {

// Largest accepted feature index; also bounds the dense matrix's rows.
constexpr uint64_t max_index = uint64_t{1} << 31;

// Largest dense matrix we build (elements): 16 GiB of floats.
constexpr uint64_t max_elements = uint64_t{1} << 32;

template <class... Ts>
[[noreturn]] void fail(const Ts&... xs) {
  std::ostringstream out;
  (out << ... << xs);
  throw data_error{out.str()};
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Returns the next whitespace-separated token of `line` and drops it from
// `line`; an empty result means there is none.
std::string_view next_token(std::string_view& line) {
  size_t i = 0;
  while (i < line.size() && is_space(line[i]))
    ++i;
  size_t j = i;
  while (j < line.size() && !is_space(line[j]))
    ++j;
  auto token = line.substr(i, j - i);
  line.remove_prefix(j);
  return token;
}

// Parses an integer label, also written as "+1" or "1.0"; sets `out` to the
// value (may be negative).
bool parse_label(std::string_view token, int64_t& out) {
  if (!token.empty() && token.front() == '+')
    token.remove_prefix(1);
  if (token.empty() || token.front() == '+')
    return false;
  double value = 0;
  const auto* last = token.data() + token.size();
  auto [ptr, ec] = std::from_chars(token.data(), last, value);
  if (ec != std::errc{} || ptr != last || !std::isfinite(value)
      || std::floor(value) != value || std::abs(value) > 4294967294.0)
    return false;
  out = static_cast<int64_t>(value);
  return true;
}

} // namespace

dataset load_libsvm(const std::string& path, const load_options& opts) {
  const auto text = detail::read_file(path);
  // The samples in compressed sparse form: sample j owns the entries
  // [starts[j], starts[j + 1]) of `indices` (zero-based) and `values`.
  std::vector<size_t> starts{0};
  std::vector<uint32_t> indices;
  std::vector<float> values;
  std::vector<uint32_t> labels;
  std::vector<uint32_t> sorted;
  uint64_t largest = 0;
  uint32_t max_label = 0;
  // -1 is only allowed in a {-1, +1} label set; these remember the first
  // line of each kind to report a mix.
  size_t first_minus_one = 0;
  size_t first_other = 0;
  detail::line_reader lines{text};
  while (lines.next()) {
    auto line = lines.line();
    const auto line_no = lines.line_no();
    if (auto hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    auto token = next_token(line);
    if (token.empty())
      continue;
    int64_t raw = 0;
    if (!parse_label(token, raw) || raw < -1)
      fail(path, ":", line_no, ": token 1: label is not a non-negative ",
        "integer or -1: ", detail::quote(token));
    if (raw == -1) {
      if (first_other != 0)
        fail(path, ":", line_no, ": token 1: label -1 mixed with label ",
          "set other than {-1, +1} (see line ", first_other, ")");
      if (first_minus_one == 0)
        first_minus_one = line_no;
    } else if (raw != 1) {
      if (first_minus_one != 0)
        fail(path, ":", line_no, ": token 1: label ", raw,
          " mixed with -1 labels (line ", first_minus_one,
          "); -1 is only allowed in a {-1, +1} label set");
      if (first_other == 0)
        first_other = line_no;
    }
    auto label = static_cast<uint32_t>(raw == -1 ? 0 : raw);
    if (opts.classes != 0 && label >= opts.classes)
      fail(path, ":", line_no, ": token 1: label ", raw,
        " is out of range for ", opts.classes, " classes");
    labels.push_back(label);
    max_label = std::max(max_label, label);
    bool ascending = true;
    size_t token_no = 1;
    auto row_start = indices.size();
    for (token = next_token(line); !token.empty(); token = next_token(line)) {
      ++token_no;
      auto colon = token.find(':');
      if (colon == std::string_view::npos)
        fail(path, ":", line_no, ": token ", token_no,
          ": expected index:value, got ", detail::quote(token));
      auto idx_text = token.substr(0, colon);
      auto val_text = token.substr(colon + 1);
      uint64_t index = 0;
      const auto* idx_last = idx_text.data() + idx_text.size();
      auto [ptr, ec] = std::from_chars(idx_text.data(), idx_last, index);
      if (ec == std::errc::result_out_of_range
          || (ec == std::errc{} && ptr == idx_last && index > max_index))
        fail(path, ":", line_no, ": token ", token_no,
          ": index too large: ", detail::quote(idx_text));
      if (ec != std::errc{} || ptr != idx_last)
        fail(path, ":", line_no, ": token ", token_no,
          ": index is not an integer: ", detail::quote(token));
      if (index == 0)
        fail(path, ":", line_no, ": token ", token_no,
          ": index 0 (indices are 1-based)");
      if (opts.features != 0 && index > opts.features)
        fail(path, ":", line_no, ": token ", token_no, ": index ", index,
          " exceeds the feature count ", opts.features);
      float value = 0;
      if (const auto* what = detail::parse_float(val_text, value))
        fail(path, ":", line_no, ": token ", token_no, ": value ", what, ": ",
          detail::quote(token));
      auto zero_based = static_cast<uint32_t>(index - 1);
      if (indices.size() > row_start && zero_based <= indices.back())
        ascending = false;
      indices.push_back(zero_based);
      values.push_back(value);
      largest = std::max(largest, index);
    }
    if (!ascending) {
      // Any order is fine, a repeated index is not.
      sorted.assign(
        indices.begin() + static_cast<ptrdiff_t>(row_start), indices.end());
      std::sort(sorted.begin(), sorted.end());
      auto dup = std::adjacent_find(sorted.begin(), sorted.end());
      if (dup != sorted.end()) {
        // Name the token of the second occurrence.
        auto first
          = std::find(indices.begin() + row_start, indices.end(), *dup);
        auto second = std::find(first + 1, indices.end(), *dup);
        auto nth = static_cast<size_t>(second - indices.begin()) - row_start;
        fail(path, ":", line_no, ": token ", nth + 2, ": duplicate index ",
          uint64_t{*dup} + 1);
      }
    }
    starts.push_back(indices.size());
  }
  auto n = labels.size();
  if (n == 0)
    fail(path, ": no data rows");
  uint64_t features = opts.features != 0 ? opts.features : largest;
  if (features == 0)
    fail(path, ": no features: no line has an index:value pair");
  if (features * n > max_elements)
    fail(path, ": ", n, " samples of ", features,
      " features are too many for a dense matrix");
  dataset ds;
  ds.x.zeros(features, n);
  for (size_t j = 0; j < n; ++j) {
    auto* col = ds.x.colptr(j);
    for (auto k = starts[j]; k < starts[j + 1]; ++k)
      col[indices[k]] = values[k];
  }
  ds.y = std::move(labels);
  ds.classes = opts.classes != 0 ? opts.classes : max_label + 1;
  return ds;
}

} // namespace paramserv
