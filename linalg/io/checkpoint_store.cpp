#include "linalg/io/checkpoint_store.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <zlib.h>

#include "linalg/data/data_error.hpp"
#include "linalg/io/posix_file.hpp"

namespace paramserv {

namespace fs = std::filesystem;

namespace {

constexpr char magic[8] = {'P', 'S', 'C', 'K', 'P', 'T', '\0', '\1'};
constexpr size_t head_size = sizeof(magic) + 8;
constexpr size_t tail_size = 4;
constexpr const char* manifest_name = "MANIFEST";
constexpr const char* manifest_head = "paramserv-checkpoint 1";

uint32_t crc_of(const char* data, size_t size) {
  return static_cast<uint32_t>(
    crc32_z(0, reinterpret_cast<const Bytef*>(data), size));
}

void put_le(std::string& out, uint64_t x, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    out += static_cast<char>((x >> (8 * i)) & 0xff);
}

uint64_t get_le(const char* p, size_t bytes) {
  uint64_t x = 0;
  for (size_t i = 0; i < bytes; ++i)
    x |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return x;
}

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw data_error{path + ": " + why};
}

std::string folder_name(uint64_t sequence) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "ckpt-%020" PRIu64, sequence);
  return buf;
}

// The sequence of a folder named by folder_name, or nullopt.
std::optional<uint64_t> sequence_of(const std::string& name) {
  if (name.size() != 25 || name.rfind("ckpt-", 0) != 0)
    return std::nullopt;
  uint64_t x = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9')
      return std::nullopt;
    auto digit = static_cast<uint64_t>(name[i] - '0');
    if (x > (UINT64_MAX - digit) / 10)
      return std::nullopt;
    x = x * 10 + digit;
  }
  return x;
}

bool valid_part_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
  });
}

// Every `ckpt-*` folder of `dir`, newest first.
std::vector<std::pair<uint64_t, fs::path>> folders(const std::string& dir) {
  std::vector<std::pair<uint64_t, fs::path>> result;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec))
      continue;
    if (auto seq = sequence_of(entry.path().filename().string()))
      result.emplace_back(*seq, entry.path());
  }
  std::sort(result.begin(), result.end(), [](auto& a, auto& b) {
    return a.first > b.first;
  });
  return result;
}

// Reads checkpoint `folder`, verifying its manifest and every part.
// @throws data_error naming the file.
checkpoint read_folder(uint64_t sequence, const fs::path& folder) {
  auto manifest_path = (folder / manifest_name).string();
  std::istringstream manifest{read_checked_file(manifest_path)};
  std::string line;
  if (!std::getline(manifest, line) || line != manifest_head)
    refuse(manifest_path, "not a paramserv checkpoint manifest");
  checkpoint c;
  if (!std::getline(manifest, line)
      || std::sscanf(line.c_str(), "sequence %" SCNu64, &c.sequence) != 1
      || c.sequence != sequence)
    refuse(manifest_path, "its sequence does not match the folder's");
  while (std::getline(manifest, line)) {
    if (line.rfind("part ", 0) != 0 || !valid_part_name(line.substr(5)))
      refuse(manifest_path, "bad line \"" + line.substr(0, 80) + "\"");
    auto name = line.substr(5);
    c.parts[name] = read_checked_file((folder / (name + ".part")).string());
  }
  return c;
}

} // namespace

void write_checked_file(const std::string& path, std::string_view payload) {
  std::string head{magic, sizeof(magic)};
  put_le(head, payload.size(), 8);
  auto crc = static_cast<uint32_t>(crc32_z(
    crc32_z(0, reinterpret_cast<const Bytef*>(head.data()), head.size()),
    reinterpret_cast<const Bytef*>(payload.data()), payload.size()));
  std::string tail;
  put_le(tail, crc, 4);
  auto tmp = path + ".tmp-" + detail::unique_id();
  {
    detail::posix_file out{tmp, detail::posix_file::mode::create_new};
    out.write(head.data(), head.size());
    out.write(payload.data(), payload.size());
    out.write(tail.data(), tail.size());
    out.sync();
    out.close();
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw std::runtime_error{
      path + ": cannot rename the new file into place: " + ec.message()};
  }
  auto parent = fs::path{path}.parent_path();
  detail::sync_directory(parent.empty() ? "." : parent.string());
}

std::string read_checked_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    refuse(path, "missing");
  std::ifstream in{path, std::ios::binary};
  if (!in)
    refuse(path, "cannot open");
  std::string bytes{std::istreambuf_iterator<char>{in}, {}};
  if (in.bad())
    refuse(path, "cannot read");
  if (bytes.size() < head_size + tail_size)
    refuse(path, "truncated: " + std::to_string(bytes.size())
                   + " bytes, a checked file has at least "
                   + std::to_string(head_size + tail_size));
  if (std::memcmp(bytes.data(), magic, sizeof(magic)) != 0)
    refuse(path, "not a paramserv checked file (wrong magic)");
  auto length = get_le(bytes.data() + sizeof(magic), 8);
  auto room = bytes.size() - head_size - tail_size;
  if (length > room)
    refuse(path, "truncated: the header promises " + std::to_string(length)
                   + " payload bytes, the file holds " + std::to_string(room));
  if (length < room)
    refuse(path,
      std::to_string(room - length) + " bytes after the end the header gives");
  auto stored
    = static_cast<uint32_t>(get_le(bytes.data() + head_size + length, 4));
  auto computed = crc_of(bytes.data(), head_size + length);
  if (stored != computed) {
    char buf[96];
    std::snprintf(buf, sizeof(buf),
      "checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed);
    refuse(path, buf);
  }
  return bytes.substr(head_size, length);
}

checkpoint_store::checkpoint_store(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_, ec))
    throw std::runtime_error{dir_ + ": cannot create the checkpoint folder"
                             + (ec ? ": " + ec.message() : std::string{})};
}

void checkpoint_store::commit(const checkpoint& c) {
  for (auto& [name, bytes] : c.parts)
    if (!valid_part_name(name))
      throw std::invalid_argument{
        "checkpoint: bad part name \"" + name.substr(0, 80) + "\""};
  auto existing = folders(dir_);
  for (auto& [seq, path] : existing) {
    if (seq < c.sequence)
      break;
    if (fs::exists(path / manifest_name))
      throw std::invalid_argument{
        "checkpoint: sequence " + std::to_string(c.sequence)
        + " is not above the newest, " + std::to_string(seq)};
  }
  auto folder = fs::path{dir_} / folder_name(c.sequence);
  std::error_code ec;
  fs::remove_all(folder, ec); // an incomplete one of the same sequence
  fs::create_directory(folder, ec);
  if (ec)
    throw std::runtime_error{
      folder.string() + ": cannot create: " + ec.message()};
  detail::sync_directory(dir_);
  std::string manifest = std::string{manifest_head} + "\nsequence "
                         + std::to_string(c.sequence) + "\n";
  for (auto& [name, bytes] : c.parts) {
    write_checked_file((folder / (name + ".part")).string(), bytes);
    manifest += "part " + name + "\n";
  }
  // The commit point: a verified manifest makes the checkpoint complete.
  write_checked_file((folder / manifest_name).string(), manifest);
  // Keep this one and the previous complete one; remove the rest.
  size_t complete = 0;
  for (auto& [seq, path] : folders(dir_)) {
    bool done = fs::exists(path / manifest_name, ec);
    if (done && complete < 2) {
      ++complete;
      continue;
    }
    if (seq != c.sequence)
      fs::remove_all(path, ec); // errors ignored: the new one is saved
  }
}

checkpoint_load checkpoint_store::load_latest() const {
  checkpoint_load result;
  for (auto& [seq, path] : folders(dir_)) {
    try {
      result.found = read_folder(seq, path);
      return result;
    } catch (const data_error& e) {
      result.refused.push_back(e.what());
    }
  }
  return result;
}

} // namespace paramserv
