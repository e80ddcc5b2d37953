#include "actors/net/secret.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace paramserv {

namespace {

std::string to_hex(const unsigned char* bytes, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string result;
  result.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    result += digits[bytes[i] >> 4];
    result += digits[bytes[i] & 0xf];
  }
  return result;
}

} // namespace

std::string read_secret_file(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0)
    throw std::runtime_error(path + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    throw std::runtime_error(path + ": not a regular file");
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    throw std::runtime_error(path
                             + ": others than its owner may read it (chmod "
                               "600 it)");
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  if (!in)
    throw std::runtime_error(path + ": cannot read it");
  auto secret = text.str();
  while (!secret.empty()
         && (secret.back() == '\n' || secret.back() == '\r'
             || secret.back() == ' ' || secret.back() == '\t'))
    secret.pop_back();
  if (secret.empty())
    throw std::runtime_error(path + ": the secret is empty");
  return secret;
}

std::string new_nonce() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("the random generator failed");
  return to_hex(bytes, sizeof(bytes));
}

std::string prove_secret(const std::string& secret, const std::string& nonce) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
        reinterpret_cast<const unsigned char*>(nonce.data()), nonce.size(), mac,
        &len)
      == nullptr)
    throw std::runtime_error("HMAC-SHA256 failed");
  return to_hex(mac, len);
}

bool check_proof(const std::string& secret, const std::string& nonce,
  const std::string& proof) {
  auto expected = prove_secret(secret, nonce);
  return proof.size() == expected.size()
         && CRYPTO_memcmp(proof.data(), expected.data(), proof.size()) == 0;
}

} // namespace paramserv
