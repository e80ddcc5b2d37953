#pragma once

#include <string>

namespace paramserv {

/// The cluster secret in `path`: the file's bytes, trailing whitespace
/// removed.
/// @throws std::runtime_error naming the file if it cannot be read, is
///         empty, or others than its owner may read or write it.
std::string read_secret_file(const std::string& path);

/// A fresh random challenge: 32 bytes from the operating system's
/// generator, as 64 hex digits.
std::string new_nonce();

/// The proof that a joiner holds `secret`: HMAC-SHA256 of `nonce` keyed
/// with it, as 64 hex digits. The secret itself never travels.
std::string prove_secret(const std::string& secret, const std::string& nonce);

/// Whether `proof` is prove_secret(secret, nonce), compared in constant
/// time.
bool check_proof(const std::string& secret, const std::string& nonce,
  const std::string& proof);

} // namespace paramserv
