// Checked files and the checkpoint folder: what is read back is what was
// written, and anything else (a flipped byte, a cut file, a missing part,
// an unfinished checkpoint) is refused naming the file, with the previous
// checkpoint used instead.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "linalg/data/data_error.hpp"
#include "linalg/io/checkpoint_store.hpp"
#include "tests/test_support.hpp"

using namespace paramserv;
namespace fs = std::filesystem;

namespace {

std::string bytes_of(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

void put_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << bytes;
}

// What read_checked_file refuses `path` with; fails if it accepts it.
std::string refusal(const std::string& path) {
  try {
    read_checked_file(path);
  } catch (const data_error& e) {
    std::string what = e.what();
    CHECK(what.find('\n') == std::string::npos);
    CHECK(what.rfind(path + ": ", 0) == 0);
    return what;
  }
  FAIL("accepted " << path);
  return {};
}

checkpoint make(uint64_t seq) {
  checkpoint c;
  c.sequence = seq;
  c.parts["job"] = "epoch " + std::to_string(seq);
  c.parts["shard-0"] = std::string("\0\1\2values", 9) + std::to_string(seq);
  c.parts["shard-1"] = std::string(1000, static_cast<char>(seq));
  return c;
}

std::string part_path(
  const checkpoint_store& store, uint64_t seq, const std::string& part) {
  char name[32];
  std::snprintf(
    name, sizeof(name), "ckpt-%020llu", static_cast<unsigned long long>(seq));
  return store.dir() + "/" + name + "/" + part;
}

} // namespace

TEST_CASE("a checked file reads back exactly what was written") {
  test::temp_dir dir{"paramserv-ckpt"};
  for (std::string payload :
    {std::string{}, std::string("\0\xff\0", 3), std::string(70000, 'x')}) {
    auto path = (dir.path / "f").string();
    write_checked_file(path, payload);
    CHECK(read_checked_file(path) == payload);
  }
  // No temporary file is left beside it.
  size_t files = 0;
  for (auto& entry : fs::directory_iterator(dir.path)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("a checked file with any byte flipped or cut anywhere is refused, "
          "naming the file") {
  test::temp_dir dir{"paramserv-ckpt"};
  auto path = (dir.path / "f").string();
  write_checked_file(path, "the model state");
  auto good = bytes_of(path);
  for (size_t i = 0; i < good.size(); ++i) {
    CAPTURE(i);
    auto bad = good;
    bad[i] ^= 0x10;
    put_bytes(path, bad);
    refusal(path);
  }
  for (size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    put_bytes(path, good.substr(0, n));
    refusal(path);
  }
  auto longer = good;
  longer.push_back('x');
  put_bytes(path, longer);
  CHECK(test::contains(refusal(path), "1 bytes after the end"));
  put_bytes(path, good);
  auto last = good.size() - 1;
  good[last] ^= 1;
  put_bytes(path, good);
  CHECK(test::contains(refusal(path), "checksum mismatch"));
  fs::remove(path);
  CHECK(test::contains(refusal(path), "missing"));
}

TEST_CASE("a checkpoint store keeps the newest two checkpoints and loads the "
          "newest") {
  test::temp_dir dir{"paramserv-ckpt"};
  checkpoint_store store{(dir.path / "ckpts").string()};
  CHECK_FALSE(store.load_latest().found);
  for (uint64_t seq : {1, 2, 5})
    store.commit(make(seq));
  auto loaded = store.load_latest();
  REQUIRE(loaded.found);
  CHECK(loaded.found->sequence == 5);
  CHECK(loaded.found->parts == make(5).parts);
  CHECK(loaded.refused.empty());
  size_t folders = 0;
  for (auto& entry : fs::directory_iterator(store.dir())) {
    (void)entry;
    ++folders;
  }
  CHECK(folders == 2);
  CHECK_THROWS_WITH_AS(store.commit(make(5)),
    doctest::Contains("not above the newest, 5"), std::invalid_argument);
  auto bad = make(6);
  bad.parts.emplace("../escape", std::string(1, 'x'));
  CHECK_THROWS_WITH_AS(store.commit(bad), doctest::Contains("bad part name"),
    std::invalid_argument);
}

TEST_CASE("a corrupt newest checkpoint is refused naming the file, and the "
          "previous one is loaded") {
  test::temp_dir dir{"paramserv-ckpt"};
  checkpoint_store store{(dir.path / "ckpts").string()};
  struct damage {
    const char* what;
    const char* part;
    const char* expected;
  };
  for (auto d : {damage{"a flipped byte", "shard-1.part", "checksum mismatch"},
         damage{"a truncated file", "job.part", "truncated"},
         damage{"a missing file", "shard-0.part", "missing"},
         damage{"a missing manifest", "MANIFEST", "missing"}}) {
    CAPTURE(d.what);
    fs::remove_all(store.dir());
    checkpoint_store fresh{store.dir()};
    fresh.commit(make(1));
    fresh.commit(make(2));
    auto path = part_path(fresh, 2, d.part);
    auto bytes = bytes_of(path);
    if (std::string{d.what} == "a flipped byte") {
      bytes[bytes.size() / 2] ^= 0x01;
      put_bytes(path, bytes);
    } else if (std::string{d.what} == "a truncated file") {
      put_bytes(path, bytes.substr(0, bytes.size() - 3));
    } else {
      fs::remove(path);
    }
    auto loaded = fresh.load_latest();
    REQUIRE(loaded.found);
    CHECK(loaded.found->sequence == 1);
    CHECK(loaded.found->parts == make(1).parts);
    REQUIRE(loaded.refused.size() == 1);
    CHECK(test::contains(loaded.refused[0], path + ": "));
    CHECK(test::contains(loaded.refused[0], d.expected));
  }
}
