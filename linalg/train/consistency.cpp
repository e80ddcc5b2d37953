#include "linalg/train/consistency.hpp"

#include <charconv>
#include <stdexcept>

namespace paramserv {

std::string to_string(const mode_setting& m) {
  std::string result = to_string(m.mode);
  if (m.mode == consistency::ssp || m.mode == consistency::sbp) {
    result += ':';
    result += std::to_string(m.param);
  }
  return result;
}

namespace {

template <class T>
bool parse_number(std::string_view str, T& out) {
  auto [ptr, ec] = std::from_chars(str.data(), str.data() + str.size(), out);
  return ec == std::errc{} && ptr == str.data() + str.size() && !str.empty();
}

} // namespace

mode_schedule parse_mode_schedule(std::string_view text) {
  mode_schedule result;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    auto entry = text.substr(pos,
      comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    auto bad = [&](const std::string& why) {
      return std::invalid_argument("entry \"" + std::string{entry}
                                   + "\": " + why
                                   + " (expected MODE[:PARAM]@EPOCH, e.g. "
                                     "bsp@1,ssp:3@2)");
    };
    auto at = entry.find('@');
    if (at == std::string_view::npos)
      throw bad("missing @EPOCH");
    auto head = entry.substr(0, at);
    mode_switch sw;
    if (!parse_number(entry.substr(at + 1), sw.epoch) || sw.epoch == 0)
      throw bad("epoch is not a positive integer");
    auto colon = head.find(':');
    auto name = head.substr(0, colon);
    auto mode = from_string<consistency>(name);
    if (!mode)
      throw bad("unknown mode \"" + std::string{name}
                + "\" (modes: " + name_list<consistency>() + ")");
    sw.mode.mode = *mode;
    bool takes_param = *mode == consistency::ssp || *mode == consistency::sbp;
    if (colon == std::string_view::npos) {
      if (takes_param)
        throw bad(std::string{name} + " needs a parameter, e.g. "
                  + std::string{name} + ":1");
    } else {
      if (!takes_param)
        throw bad(std::string{name} + " takes no parameter");
      int64_t p = 0;
      if (!parse_number(head.substr(colon + 1), p) || p < 0
          || p > int64_t{UINT32_MAX})
        throw bad("parameter is not a non-negative integer");
      sw.mode.param = static_cast<uint32_t>(p);
    }
    if (result.empty() && sw.epoch != 1)
      throw bad("the first entry must start at epoch 1");
    if (!result.empty() && sw.epoch <= result.back().epoch)
      throw bad("epochs must increase");
    result.push_back(sw);
    if (comma == std::string_view::npos)
      break;
    pos = comma + 1;
  }
  return result;
}

mode_setting mode_at(const mode_schedule& schedule, size_t epoch) {
  mode_setting result;
  for (auto& sw : schedule)
    if (sw.epoch <= epoch)
      result = sw.mode;
  return result;
}

} // namespace paramserv
