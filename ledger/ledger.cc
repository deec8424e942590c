// The front door (ledger.h): opens the backend, applies migrations, and hands out the parts,
// which share one internal::Core (connection, writer lock, staff-id key, clock).
#include "ledger/ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "ledger/internal/core.h"
#include "ledger/internal/schema.h"

namespace lk::ledger {
namespace fs = std::filesystem;

Ledger::Ledger(std::unique_ptr<internal::Core> core)
    : core_(std::move(core)),
      imports_(*core_),
      cards_(*core_),
      access_(*core_),
      counts_(*core_),
      audit_(*core_),
      usage_(*core_),
      pass_updates_(*core_),
      sessions_(*core_) {}

Ledger::~Ledger() = default;

std::string_view Ledger::backend() const {
  return core_->db->dialect() == internal::Dialect::kSqlite ? "sqlite" : "postgresql";
}

Result<std::unique_ptr<Ledger>> OpenLedger(const LedgerOptions& options, const Clock& clock) {
  fs::path keys = options.keys_dir.empty() ? options.data_dir / "keys" : options.keys_dir;
  std::unique_ptr<internal::Db> db;
  const std::string& url = options.url;
  int readers = 0;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    auto pg = internal::OpenPostgres(url);
    if (!pg) return std::unexpected(pg.error());
    db = std::move(*pg);
    readers = std::max(0, options.postgres_readers);
  } else {
    if (url.find("://") != std::string::npos)
      return Fail(Code::kInvalidArgument, "ledger URL '" + url + "': use a file path or a postgresql:// URL");
    fs::path file = url.empty() ? options.data_dir / "ledger.sqlite"
                                : fs::path(url.starts_with("sqlite:") ? url.substr(7) : url);
    std::error_code ec;
    if (!options.create_if_missing && !fs::exists(file, ec))
      return Fail(
          Code::kInvalidArgument,
          "no ledger at " + file.string() +
              ": is --data-dir (or --ledger, [ledger] url, $LK_LEDGER_URL) right? A new ledger is made "
              "by `lerarenkaart import roster` or `lerarenkaart serve`, not by this command");
    if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
    if (!fs::exists(file, ec)) {  // owner-only, like every other file under the data directory
      int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0) ::close(fd);
    }
    auto lite = internal::OpenSqlite(file.string());
    if (!lite) return std::unexpected(lite.error());
    db = std::move(*lite);
  }
  if (!options.create_if_missing && db->dialect() == internal::Dialect::kPostgres) {
    auto have = db->Query("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!have) return std::unexpected(have.error());
    if (have->empty() || (*have)[0][0] != "t")
      return Fail(Code::kInvalidArgument,
                  "the PostgreSQL database of the ledger URL holds no ledger: is --ledger ([ledger] url, "
                  "$LK_LEDGER_URL) right? A new ledger is made by `lerarenkaart import roster` or "
                  "`lerarenkaart serve`, not by this command");
  }
  if (auto r = internal::Migrate(*db, clock.Now()); !r) return std::unexpected(r.error());
  return std::make_unique<Ledger>(std::make_unique<internal::Core>(std::move(db), keys, clock, url, readers));
}

}  // namespace lk::ledger
