#include "engine/crypto/key_hasher.hpp"

#include <sodium.h>

namespace keyflow {

Bytes KeyHasher::hash(std::string_view key) const {
  Bytes out(crypto_generichash_BYTES);
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(key.data()),
                     key.size(), pepper_.data(), MasterKey::kSize);
  return out;
}

}  // namespace keyflow
