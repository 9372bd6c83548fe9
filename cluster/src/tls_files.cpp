#include "tls_files.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace annals::cluster::detail {
namespace {

const char* const make_hint = "make the cluster's files with scripts/make-cluster-certs.sh (docs/cluster.md)";

[[noreturn]] void fail(const std::string& text) {
  ERR_clear_error();
  throw TransportError(text);
}

/// The file's bytes; a missing, unreadable or non-regular file is refused.
std::string read_file(const std::string& what, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status))
    fail("TLS " + what + " file " + path + " does not exist; fix the path or " + make_hint);
  if (fs::is_directory(status))
    fail("TLS " + what + " file " + path + " is a directory, not a file; give the PEM file's path");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    fail("TLS " + what + " file " + path + " cannot be read (" + std::strerror(err) +
         "); let this node's user read it");
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad())
    fail("TLS " + what + " file " + path + " cannot be read; let this node's user read it");
  return bytes.str();
}

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct StoreFree { void operator()(X509_STORE* s) const { X509_STORE_free(s); } };
struct StoreCtxFree { void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

BioPtr memory_bio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

/// Every certificate of a PEM file; none if it holds no PEM certificate.
std::vector<X509Ptr> read_certificates(const std::string& bytes) {
  std::vector<X509Ptr> out;
  auto bio = memory_bio(bytes);
  // A passphrase callback that gives nothing: never prompts on a terminal.
  auto no_prompt = [](char*, int, int, void*) { return 0; };
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, no_prompt, nullptr)) out.emplace_back(x);
  ERR_clear_error();
  return out;
}

struct Passphrase {
  const std::string* text;
  bool asked = false;
};

int give_passphrase(char* buf, int size, int, void* user) {
  auto* p = static_cast<Passphrase*>(user);
  p->asked = true;
  const int n = static_cast<int>(p->text->size());
  if (n == 0 || n > size) return 0;
  std::memcpy(buf, p->text->data(), static_cast<std::size_t>(n));
  return n;
}

} // namespace

void check_tls_files(const TlsFiles& tls) {
  const bool any = !tls.certificate.empty() || !tls.key.empty() || !tls.cafile.empty();
  std::vector<std::string> missing;
  if (tls.certificate.empty()) missing.push_back("certificate");
  if (tls.key.empty()) missing.push_back("key");
  if (tls.cafile.empty()) missing.push_back("cafile");
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    fail(std::string(any ? "TLS is only partly configured" : "TLS is asked for but no file is given") +
         ": " + names + " missing; give the node's certificate, its key and the cluster's CA certificate (all three)");
  }

  const auto cert_bytes = read_file("certificate", tls.certificate);
  const auto key_bytes = read_file("key", tls.key);
  const auto ca_bytes = read_file("CA", tls.cafile);

  auto certs = read_certificates(cert_bytes);
  if (certs.empty())
    fail("TLS certificate file " + tls.certificate +
         " holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the node's certificate");
  auto cas = read_certificates(ca_bytes);
  if (cas.empty())
    fail("TLS CA file " + tls.cafile +
         " holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the cluster's CA certificate");

  Passphrase pass{&tls.passphrase};
  auto bio = memory_bio(key_bytes);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, give_passphrase, &pass));
  if (!key) {
    if (pass.asked && tls.passphrase.empty())
      fail("TLS key file " + tls.key + " is encrypted and no passphrase is given; give its passphrase");
    if (pass.asked)
      fail("TLS key file " + tls.key +
           " does not decrypt with the given passphrase; give the passphrase it was encrypted with");
    fail("TLS key file " + tls.key + " holds no PEM private key (-----BEGIN PRIVATE KEY-----); give the node's key");
  }
  if (X509_check_private_key(certs.front().get(), key.get()) != 1)
    fail("TLS key file " + tls.key + " is not the key of the certificate " + tls.certificate +
         "; give the key made with that certificate");

  // The node's certificate must come from the cluster's CA, or every other
  // node refuses it at its first connection (a confusing later failure).
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  for (auto& ca : cas) X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  STACK_OF(X509)* chain = sk_X509_new_null();
  for (std::size_t i = 1; i < certs.size(); ++i) sk_X509_push(chain, certs[i].get());
  X509_STORE_CTX_init(ctx.get(), store.get(), certs.front().get(), chain);
  const int verified = X509_verify_cert(ctx.get());
  const int why = X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(chain);
  if (verified != 1)
    fail("TLS certificate " + tls.certificate + " does not verify against the CA " + tls.cafile + " (" +
         X509_verify_cert_error_string(why) + "); give a certificate signed by the cluster's CA");
  ERR_clear_error();
}

} // namespace annals::cluster::detail
