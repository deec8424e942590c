#pragma once
// A real SMTP server on 127.0.0.1 for the mail tests and the load benchmark: tests/mail/smtp_sink.py
// (Debian's python3-aiosmtpd) in a child process, stopped when this object goes away (it also
// exits by itself when its stdin, our pipe, closes). Messages are read back with Python's email
// module (tests/mail/read_mail.py).
#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mail/claim_mail.h"

namespace lk::mail::testing {

class SmtpSink {
 public:
  // Starts the sink with smtp_sink.py's options (e.g. {"--auth", "u:p"}); messages go to `dir`
  // unless "--discard" is among them. Throws std::runtime_error when it does not start.
  SmtpSink(const std::filesystem::path& dir, const std::vector<std::string>& options = {});
  ~SmtpSink();
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // The saved messages' paths (NNNNNN.eml), in arrival order.
  std::vector<std::filesystem::path> Messages() const;
  // The envelope and session of a saved message (its .json sidecar).
  nlohmann::json Envelope(const std::filesystem::path& eml) const;

 private:
  void Stop();
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

// A message parsed by Python's email module: from, to, subject, date, message_id, text, html,
// structure (content types in order), defects, images ({file, cid, disposition}).
nlohmann::json ReadMail(const std::filesystem::path& eml);
// What zbarimg reads from an image ("" when it finds no code).
std::string DecodeQr(const std::filesystem::path& image);
// The claim mail options of the tests: https://lerarenkaart.example.be, from
// "Lerarenkaart" <kaart@lerarenkaart.example.be>, card year 2026.
ClaimMailOptions TestMailOptions();
// The directory of the test scripts.
std::filesystem::path ScriptDir();

}  // namespace lk::mail::testing
