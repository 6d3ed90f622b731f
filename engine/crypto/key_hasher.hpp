#pragma once

#include <string_view>

#include "engine/core/encoding.hpp"
#include "engine/crypto/master_key.hpp"

namespace keyflow {

// Keyed BLAKE2b-256 with the master key as pepper: a leaked table of hashes cannot be
// brute-forced without the master key as well.
class KeyHasher {
 public:
  explicit KeyHasher(const MasterKey& pepper) : pepper_(pepper) {}
  Bytes hash(std::string_view key) const;

 private:
  MasterKey pepper_;
};

}  // namespace keyflow
