// A C++ program built only from `pkg-config --cflags --libs modelseal` and the umbrella header:
// verifies MODEL with PUB, then reads FILE through the verified-read API.
#include <modelseal/modelseal.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  try {
    modelseal::Policy policy = modelseal::Policy::from_keys({modelseal::PublicKey::load(argv[2])});
    modelseal::VerifiedModel model = modelseal::verify_model(argv[1], policy);
    std::string bytes = modelseal::read_verified(model, argv[3]);
    std::printf("sha256:%s %zu\n", modelseal::digest_hex(model.root_digest()).c_str(), bytes.size());
  } catch (const modelseal::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return static_cast<int>(e.status());
  }
  return 0;
}
