// Numbered migrations. {ID} and {DATE} are the only dialect differences in the DDL; the rest is
// standard SQL both engines enforce (CHECK, UNIQUE, FOREIGN KEY).
#include "ledger/internal/schema.h"

#include <string>
#include <vector>

namespace lk::ledger::internal {
namespace {

struct Migration {
  int version;
  const char* sql;           // common SQL
  const char* sqlite_sql;    // extra, SQLite only
  const char* postgres_sql;  // extra, PostgreSQL only
};

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE card_years (
  year INTEGER PRIMARY KEY CHECK (year BETWEEN 2000 AND 2199),
  created_at BIGINT NOT NULL
);
CREATE TABLE roster (
  id {ID},
  card_year INTEGER NOT NULL REFERENCES card_years (year),
  staff_key TEXT NOT NULL CHECK (length(staff_key) = 64),
  role TEXT NOT NULL CHECK (role IN ('administrative', 'teaching', 'support')),
  network TEXT NOT NULL CHECK (network IN ('GO', 'OGO', 'VGO')),
  level TEXT NOT NULL CHECK (level IN ('basic', 'secondary', 'higher', 'adult', 'part_time_arts', 'other')),
  school_number TEXT NOT NULL CHECK (length(school_number) BETWEEN 1 AND 12),
  postcode INTEGER NOT NULL CHECK (postcode BETWEEN 1000 AND 9999),
  province TEXT NOT NULL,
  starter INTEGER NOT NULL CHECK (starter IN (0, 1)),
  audit_seq BIGINT NOT NULL,
  UNIQUE (card_year, staff_key)
);
CREATE TABLE cards (
  serial TEXT PRIMARY KEY CHECK (length(serial) = 12),
  roster_id BIGINT NOT NULL REFERENCES roster (id),
  channel TEXT NOT NULL CHECK (channel IN ('digital', 'subscription', 'starter', 'library')),
  issued_on {DATE} NOT NULL,
  school_year INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  revoked_reason TEXT,
  revoked_at BIGINT,
  auth_token TEXT CHECK (auth_token IS NULL OR length(auth_token) >= 16),
  update_tag BIGINT NOT NULL,
  audit_seq BIGINT NOT NULL,
  UNIQUE (roster_id, channel),
  CHECK ((channel = 'digital') = (auth_token IS NOT NULL)),
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL AND revoked_reason IS NOT NULL))
);
CREATE TABLE published_uptake (
  label TEXT PRIMARY KEY,
  year INTEGER UNIQUE,
  eligible BIGINT NOT NULL CHECK (eligible >= 0),
  subscribers BIGINT NOT NULL CHECK (subscribers >= 0),
  starters BIGINT NOT NULL CHECK (starters >= 0),
  library BIGINT NOT NULL CHECK (library >= 0),
  holders BIGINT NOT NULL,  -- no CHECK (>= 0): both engines check it before ON CONFLICT turns a
                            -- negative delta into an update; `ledger verify` recounts instead
  printed_share TEXT NOT NULL,
  source TEXT NOT NULL,
  audit_seq BIGINT NOT NULL
);
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY CHECK (seq >= 1),
  at BIGINT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash TEXT NOT NULL CHECK (length(hash) = 64)
);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
)sql",
       // The audit log is append-only at the database too (an owner can still drop the
       // triggers; `ledger verify` is what catches that).
       R"sql(
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
       R"sql(
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
)sql"},
      // SQLite only: covering indexes for its scan-based adoption counts (narrow scans instead of
      // whole rows). PostgreSQL aggregates on the server and would only pay for them on insert.
      {2, "", R"sql(
CREATE INDEX roster_dims ON roster (card_year, province, network, role, level);
CREATE INDEX cards_counts ON cards (status, roster_id, channel, school_year);
)sql",
       ""},
      // 3: what the HTTP service needs: each card's QR token, holders' display names (recorded
      // with claim codes, for the pass), one-time claim codes and service credentials, the
      // last two only as SHA-256 hashes.
      {3, R"sql(
ALTER TABLE cards ADD COLUMN qr_token TEXT;
ALTER TABLE cards ADD COLUMN qr_token_at BIGINT;
CREATE TABLE holder_names (
  roster_id BIGINT PRIMARY KEY REFERENCES roster (id),
  display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100)
);
CREATE TABLE claim_codes (
  roster_id BIGINT PRIMARY KEY REFERENCES roster (id),
  code_hash TEXT NOT NULL UNIQUE CHECK (length(code_hash) = 64),
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  audit_seq BIGINT NOT NULL
);
CREATE TABLE credentials (
  id {ID},
  kind TEXT NOT NULL CHECK (kind IN ('staff', 'partner')),
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  secret_hash TEXT NOT NULL UNIQUE CHECK (length(secret_hash) = 64),
  created_at BIGINT NOT NULL,
  audit_seq BIGINT NOT NULL,
  UNIQUE (kind, name)
);
)sql",
       "", ""},
      // 4: the adoption aggregate. Per (card year, province, network, role, level, mask) the
      // number of roster entries whose ACTIVE cards are exactly the channels in `mask` (bit 0
      // digital, 1 subscription, 2 starter, 3 library; mask 0 = eligible without a card). Every
      // write that adds roster entries or adds or revokes cards moves these counts in the same
      // transaction, so the calendar report reads a few thousand rows instead of millions;
      // `ledger verify` recounts it. Built here from the data already in the ledger.
      {4, R"sql(
CREATE TABLE adoption_cells (
  card_year INTEGER NOT NULL,
  province TEXT NOT NULL,
  network TEXT NOT NULL,
  role TEXT NOT NULL,
  level TEXT NOT NULL,
  mask INTEGER NOT NULL CHECK (mask BETWEEN 0 AND 15),
  holders BIGINT NOT NULL,  -- no CHECK (>= 0): both engines check it before ON CONFLICT turns a
                            -- negative delta into an update; `ledger verify` recounts instead
  PRIMARY KEY (card_year, province, network, role, level, mask)
);
CREATE INDEX cards_audit_seq ON cards (audit_seq);
INSERT INTO adoption_cells (card_year, province, network, role, level, mask, holders)
SELECT r.card_year, r.province, r.network, r.role, r.level, coalesce(m.mask, 0), count(*)
FROM roster r LEFT JOIN (SELECT roster_id, sum({CHANNEL_BIT}) AS mask FROM cards
                         WHERE status = 'active' GROUP BY roster_id) m ON m.roster_id = r.id
GROUP BY r.card_year, r.province, r.network, r.role, r.level, coalesce(m.mask, 0);
)sql",
       "",
       // PostgreSQL checks a row-level foreign key with one locking query per inserted card, which
       // made half the cost of a bulk import. The same rule, set-based: one anti-join per INSERT
       // statement over its new rows; roster entries cannot be deleted or renumbered (the ledger
       // never does either) and a card cannot be moved to another roster entry.
       R"sql(
ALTER TABLE cards DROP CONSTRAINT IF EXISTS cards_roster_id_fkey;
CREATE OR REPLACE FUNCTION cards_roster_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_cards n WHERE NOT EXISTS (SELECT 1 FROM roster r WHERE r.id = n.roster_id)) THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = 'insert into cards violates the foreign key cards.roster_id -> roster.id';
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS cards_roster_fk ON cards;
CREATE TRIGGER cards_roster_fk AFTER INSERT ON cards REFERENCING NEW TABLE AS new_cards
FOR EACH STATEMENT EXECUTE FUNCTION cards_roster_exists();
CREATE OR REPLACE FUNCTION cards_keep_roster() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.roster_id <> OLD.roster_id THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = 'a card cannot move to another roster entry';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS cards_keep_roster ON cards;
CREATE TRIGGER cards_keep_roster BEFORE UPDATE ON cards FOR EACH ROW EXECUTE FUNCTION cards_keep_roster();
CREATE OR REPLACE FUNCTION roster_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.id = OLD.id THEN RETURN NEW; END IF;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = 'roster entries are never deleted or renumbered';
END $$;
DROP TRIGGER IF EXISTS roster_keep ON roster;
CREATE TRIGGER roster_keep BEFORE DELETE OR UPDATE ON roster FOR EACH ROW EXECUTE FUNCTION roster_keep();
DROP TRIGGER IF EXISTS roster_no_truncate ON roster;
CREATE TRIGGER roster_no_truncate BEFORE TRUNCATE ON roster FOR EACH STATEMENT EXECUTE FUNCTION roster_keep();
)sql"},
      // The check of migration 4 as EXISTS made PostgreSQL plan for the first row: one index probe
      // per new card. Counting lets it hash-join a bulk insert's new rows instead.
      {5, "", "", R"sql(
CREATE OR REPLACE FUNCTION cards_roster_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT count(*) FROM new_cards n WHERE NOT EXISTS (SELECT 1 FROM roster r WHERE r.id = n.roster_id)) > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = 'insert into cards violates the foreign key cards.roster_id -> roster.id';
  END IF;
  RETURN NULL;
END $$;
)sql"},
      // 6: the school-year aggregate. The school-year view counts by issue date (1 September -
      // 31 August) and a holder is a person (staff key) across card years, so it cannot come
      // from adoption_cells. Per (school year, dimension, group): active cards per channel
      // (school_card_cells) and how many people hold exactly the channels in `mask` there
      // (school_holder_cells; dimension 'all' with group '' is the whole school year). Kept in
      // the same transaction as every write, like adoption_cells; `ledger verify` recounts it.
      // Both views now read aggregates, so SQLite's covering indexes for the scans (migration
      // 2) only cost inserts; a small partial index serves the revocation list instead. On
      // PostgreSQL the aggregate upkeep reads the new cards from the INSERT itself, so the
      // audit_seq index (migration 4) only cost inserts too.
      {6, R"sql(
CREATE TABLE school_card_cells (
  school_year INTEGER NOT NULL,
  dim TEXT NOT NULL CHECK (dim IN ('all', 'province', 'network', 'role', 'level')),
  grp TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('digital', 'subscription', 'starter', 'library')),
  cards BIGINT NOT NULL,
  PRIMARY KEY (school_year, dim, grp, channel)
);
CREATE TABLE school_holder_cells (
  school_year INTEGER NOT NULL,
  dim TEXT NOT NULL CHECK (dim IN ('all', 'province', 'network', 'role', 'level')),
  grp TEXT NOT NULL,
  mask INTEGER NOT NULL CHECK (mask BETWEEN 1 AND 15),
  holders BIGINT NOT NULL,
  PRIMARY KEY (school_year, dim, grp, mask)
);
INSERT INTO school_card_cells (school_year, dim, grp, channel, cards) {SCHOOL_CARDS};
INSERT INTO school_holder_cells (school_year, dim, grp, mask, holders) {SCHOOL_HOLDERS};
CREATE INDEX cards_revoked ON cards (roster_id) WHERE status = 'revoked';
)sql",
       R"sql(
DROP INDEX IF EXISTS cards_counts;
DROP INDEX IF EXISTS roster_dims;
)sql",
       // Serials and staff keys are ASCII: compared byte by byte ("C"), index inserts, sorts and
       // statistics cost a fraction of a locale-aware comparison; the order of [0-9A-Z] is the same.
       R"sql(
DROP INDEX IF EXISTS cards_audit_seq;
ALTER TABLE cards ALTER COLUMN serial TYPE TEXT COLLATE "C";
ALTER TABLE roster ALTER COLUMN staff_key TYPE TEXT COLLATE "C";
)sql"},
      // 7 (PostgreSQL): an import's audit entry lists every card it made (~7 MB for 250,000
      // cards, see CardFingerprint). PostgreSQL compressed that list on insert (pglz, mostly
      // random hex: to about 70%) in more time than the rest of writing it; stored out of line
      // uncompressed instead. Only the storage of new entries changes; their text is the same.
      {7, "", "", R"sql(
ALTER TABLE audit_log ALTER COLUMN detail SET STORAGE EXTERNAL;
)sql"},
      // 8 (PostgreSQL): the check of migration 5 hashed every roster entry of every card year
      // for each bulk insert. The new cards' roster ids lie between their least and greatest
      // (one card year's entries, mostly), so only that range of the roster is read, with the
      // bounds as constants so the planner can use the primary key. When the roster holds every
      // id of that range (ids are unique, so a count of hi - lo + 1 says so: the usual case, one
      // roster import's entries), every new card names an existing entry without a join; else
      // the new rows are anti-joined to the range as before. Roster entries are never deleted.
      {8, "", "", R"sql(
CREATE OR REPLACE FUNCTION cards_roster_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  lo BIGINT;
  hi BIGINT;
  present BIGINT;
  missing BIGINT;
BEGIN
  SELECT min(roster_id), max(roster_id) INTO lo, hi FROM new_cards;
  IF lo IS NULL THEN RETURN NULL; END IF;
  EXECUTE format('SELECT count(*) FROM roster WHERE id BETWEEN %s AND %s', lo, hi) INTO present;
  IF present = hi - lo + 1 THEN RETURN NULL; END IF;
  EXECUTE format('SELECT count(*) FROM new_cards n WHERE NOT EXISTS (SELECT 1 FROM roster r WHERE r.id = n.roster_id '
                 'AND r.id BETWEEN %s AND %s)', lo, hi) INTO missing;
  IF missing > 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = 'insert into cards violates the foreign key cards.roster_id -> roster.id';
  END IF;
  RETURN NULL;
END $$;
)sql"},
      // 9 (PostgreSQL): the same for roster.card_year -> card_years.year. The row-level foreign
      // key made one lookup per new roster entry: 1.35 s of a 250,000-row roster import's 4.2 s
      // statement (auto_explain). One check per INSERT statement over its new rows' card years
      // instead; card years are never deleted or renumbered, and a roster entry never moves to
      // another card year (roster_keep, which already refuses deletes and renumbering).
      {9, "", "", R"sql(
ALTER TABLE roster DROP CONSTRAINT IF EXISTS roster_card_year_fkey;
CREATE OR REPLACE FUNCTION roster_card_year_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT card_year FROM new_roster) n
             WHERE NOT EXISTS (SELECT 1 FROM card_years y WHERE y.year = n.card_year)) THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = 'insert into roster violates the foreign key roster.card_year -> card_years.year';
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS roster_card_year_fk ON roster;
CREATE TRIGGER roster_card_year_fk AFTER INSERT ON roster REFERENCING NEW TABLE AS new_roster
FOR EACH STATEMENT EXECUTE FUNCTION roster_card_year_exists();
CREATE OR REPLACE FUNCTION roster_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.id = OLD.id AND NEW.card_year = OLD.card_year THEN RETURN NEW; END IF;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
    MESSAGE = 'roster entries are never deleted, renumbered or moved to another card year';
END $$;
CREATE OR REPLACE FUNCTION card_years_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.year = OLD.year THEN RETURN NEW; END IF;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = 'card years are never deleted or renumbered';
END $$;
DROP TRIGGER IF EXISTS card_years_keep ON card_years;
CREATE TRIGGER card_years_keep BEFORE DELETE OR UPDATE ON card_years FOR EACH ROW EXECUTE FUNCTION card_years_keep();
DROP TRIGGER IF EXISTS card_years_no_truncate ON card_years;
CREATE TRIGGER card_years_no_truncate BEFORE TRUNCATE ON card_years FOR EACH STATEMENT
EXECUTE FUNCTION card_years_keep();
)sql"},
      // 10: the claim mail. Each roster entry's mail address and language (from the roster's
      // optional email and language columns), the nonce a mailed claim code is derived from (so a
      // resumed run mails the same code; the code itself is still stored only as its hash), and
      // the run's journal: a holder is marked 'sending' (committed) before the send and 'sent' or
      // 'failed' after it, so that no holder is mailed twice whatever crashes. And the one-time
      // sign-in links of "send me a new link" (only their hashes), found by the address.
      {10, R"sql(
CREATE TABLE holder_contacts (
  roster_id BIGINT PRIMARY KEY REFERENCES roster (id),
  email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  language TEXT CHECK (language IS NULL OR language IN ('nl', 'fr', 'en'))
);
CREATE INDEX holder_contacts_email ON holder_contacts (lower(email));
CREATE TABLE signin_links (
  token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
  roster_id BIGINT NOT NULL REFERENCES roster (id),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX signin_links_roster ON signin_links (roster_id);
ALTER TABLE claim_codes ADD COLUMN mail_nonce TEXT;
CREATE TABLE claim_mail_journal (
  roster_id BIGINT PRIMARY KEY REFERENCES roster (id),
  state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
  reason TEXT,
  updated_at BIGINT NOT NULL
);
)sql",
       "", ""},
      // 11: one active digital card per holder per card year, not one ever. A teacher who moves
      // the card to a new phone gets a replacement with a new serial (Cards::ReplaceDigital); the
      // replaced card is revoked and names its successor in `replaced_by`. So (roster_id,
      // channel) is unique only among the cards not replaced: a holder's current card of each
      // channel. Physical channels are never replaced, so for them nothing changes. SQLite
      // cannot drop a table's UNIQUE constraint: the table is rebuilt with the same rows and
      // indexes (no other table refers to cards).
      {11, "",
       R"sql(
CREATE TABLE cards_v11 (
  serial TEXT PRIMARY KEY CHECK (length(serial) = 12),
  roster_id BIGINT NOT NULL REFERENCES roster (id),
  channel TEXT NOT NULL CHECK (channel IN ('digital', 'subscription', 'starter', 'library')),
  issued_on TEXT NOT NULL,
  school_year INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  revoked_reason TEXT,
  revoked_at BIGINT,
  auth_token TEXT CHECK (auth_token IS NULL OR length(auth_token) >= 16),
  update_tag BIGINT NOT NULL,
  audit_seq BIGINT NOT NULL,
  qr_token TEXT,
  qr_token_at BIGINT,
  replaced_by TEXT CHECK (replaced_by IS NULL OR (length(replaced_by) = 12 AND status = 'revoked'
                                                  AND channel = 'digital' AND replaced_by <> serial)),
  CHECK ((channel = 'digital') = (auth_token IS NOT NULL)),
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL AND revoked_reason IS NOT NULL))
);
INSERT INTO cards_v11 (serial, roster_id, channel, issued_on, school_year, status, revoked_reason, revoked_at,
                       auth_token, update_tag, audit_seq, qr_token, qr_token_at)
SELECT serial, roster_id, channel, issued_on, school_year, status, revoked_reason, revoked_at, auth_token,
       update_tag, audit_seq, qr_token, qr_token_at FROM cards ORDER BY rowid;
DROP TABLE cards;
ALTER TABLE cards_v11 RENAME TO cards;
CREATE INDEX cards_audit_seq ON cards (audit_seq);
CREATE INDEX cards_revoked ON cards (roster_id) WHERE status = 'revoked';
CREATE UNIQUE INDEX cards_current ON cards (roster_id, channel) WHERE replaced_by IS NULL;
)sql",
       R"sql(
ALTER TABLE cards ADD COLUMN replaced_by TEXT COLLATE "C" CHECK (replaced_by IS NULL OR (length(replaced_by) = 12
  AND status = 'revoked' AND channel = 'digital' AND replaced_by <> serial));
CREATE UNIQUE INDEX cards_current ON cards (roster_id, channel) WHERE replaced_by IS NULL;
ALTER TABLE cards DROP CONSTRAINT cards_roster_id_channel_key;
)sql"},
      // Partner use (docs/desk.md): how many scans each partner made per Brussels day and per
      // outcome. Deliberately no serial, no time of day and no place: the service keeps no record of
      // where a card was shown.
      {12, R"sql(
CREATE TABLE verification_counts (
  day TEXT NOT NULL CHECK (length(day) = 10),
  partner_id BIGINT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('valid', 'revoked', 'expired', 'not_yet_valid', 'not_lerarenkaart',
                                           'damaged', 'unknown_key')),
  count BIGINT NOT NULL CHECK (count > 0),
  PRIMARY KEY (day, partner_id, outcome)
);
)sql",
       "", ""},
      // 13: Apple's pass web service and pushes (pass_updates.h). Devices by their library
      // identifier with their push token, their registrations per pass, the queue of pass
      // changes to push, the batches pushers lease (one pusher per batch across instances) and
      // the journal of tokens a batch has reached (so a crash never pushes a change twice).
      {13, R"sql(
CREATE TABLE wallet_devices (
  device_id TEXT PRIMARY KEY CHECK (length(device_id) BETWEEN 1 AND 100),
  push_token TEXT NOT NULL CHECK (length(push_token) BETWEEN 1 AND 200),
  updated_at BIGINT NOT NULL
);
CREATE INDEX wallet_devices_push_token ON wallet_devices (push_token);
CREATE TABLE wallet_registrations (
  device_id TEXT NOT NULL,
  serial TEXT NOT NULL,
  registered_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, serial)
);
CREATE INDEX wallet_registrations_serial ON wallet_registrations (serial);
CREATE TABLE wallet_changes (
  id {ID},
  serial TEXT NOT NULL,
  update_tag BIGINT NOT NULL,
  queued_at BIGINT NOT NULL,
  batch_id BIGINT
);
CREATE INDEX wallet_changes_batch ON wallet_changes (batch_id);
CREATE TABLE wallet_push_batches (
  id {ID},
  created_at BIGINT NOT NULL,
  holder TEXT NOT NULL,
  lease_until BIGINT NOT NULL,
  not_before BIGINT NOT NULL,
  runs INTEGER NOT NULL,
  finished_at BIGINT,
  devices BIGINT,
  delivered BIGINT,
  gone BIGINT,
  failed BIGINT
);
CREATE TABLE wallet_push_deliveries (
  batch_id BIGINT NOT NULL,
  push_token TEXT NOT NULL,
  PRIMARY KEY (batch_id, push_token)
);
)sql",
       "", ""},
      // The official list of schools (number, name, postcode, municipality; `import schools`), so
      // that passes, the teacher's site and the console name a school instead of its number.
      // Reference data outside the audited record counts: a newer list renames a school in place.
      {14, R"sql(
CREATE TABLE IF NOT EXISTS schools (
  school_number TEXT PRIMARY KEY CHECK (length(school_number) BETWEEN 1 AND 12),
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  postcode TEXT NOT NULL,
  municipality TEXT NOT NULL,
  audit_seq BIGINT NOT NULL
);
)sql",
       "", ""},
      // 15: the new card year in the same wallet entry (Cards::RenewDigital). A holder's card of
      // the next card year is a card of its own (its roster entry, serial, issue date and QR
      // token, so every count keeps each year's cards in their year) that names the wallet entry
      // it took over: the serial of the entry's first card, which stays the Apple pass's
      // serialNumber and the Google object's id. The index finds an entry's cards.
      {15, "",
       R"sql(
ALTER TABLE cards ADD COLUMN wallet_serial TEXT CHECK (wallet_serial IS NULL OR (length(wallet_serial) = 12
  AND channel = 'digital' AND wallet_serial <> serial));
CREATE INDEX cards_wallet_serial ON cards (wallet_serial) WHERE wallet_serial IS NOT NULL;
)sql",
       R"sql(
ALTER TABLE cards ADD COLUMN wallet_serial TEXT COLLATE "C" CHECK (wallet_serial IS NULL OR (length(wallet_serial) = 12
  AND channel = 'digital' AND wallet_serial <> serial));
CREATE INDEX cards_wallet_serial ON cards (wallet_serial) WHERE wallet_serial IS NOT NULL;
)sql"},
      // 16 (SQLite): the index the counts and the imports' joins use (migration 2) again: migration
      // 11 rebuilt `cards` without it, so every import and report on a large SQLite ledger fell
      // back to a temporary index built on the fly. PostgreSQL dropped it on purpose (6).
      {16, "", R"sql(
CREATE INDEX IF NOT EXISTS cards_counts ON cards (status, roster_id, channel, school_year);
)sql",
       ""},
      // 17: signed-in browsers (ledger/sessions.h), so that sessions survive a restart and every
      // instance on the ledger shares them. Keyed by the SHA-256 of the session id, never the id;
      // the form token is derived from the id and not stored. The index serves expiry pruning and
      // the per-kind cap (oldest first); session_counts holds each kind's rows so that the cap
      // costs one read.
      {17, R"sql(
CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
  kind TEXT NOT NULL CHECK (kind IN ('teacher', 'console', 'desk')),
  subject TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 100),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  moved_from TEXT NOT NULL DEFAULT '' CHECK (length(moved_from) <= 100),
  moves INTEGER NOT NULL DEFAULT 0 CHECK (moves >= 0)
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (kind, expires_at);
CREATE TABLE IF NOT EXISTS session_counts (
  kind TEXT PRIMARY KEY CHECK (kind IN ('teacher', 'console', 'desk')),
  sessions BIGINT NOT NULL CHECK (sessions >= 0)
);
INSERT INTO session_counts (kind, sessions) VALUES ('teacher', 0), ('console', 0), ('desk', 0)
  ON CONFLICT (kind) DO NOTHING;
)sql",
       "", ""},
  };
  return kMigrations;
}

std::string Render(std::string sql, Dialect d) {
  auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t p; (p = sql.find(from)) != std::string::npos;) sql.replace(p, from.size(), to);
  };
  replace("{ID}",
          d == Dialect::kSqlite ? "INTEGER PRIMARY KEY" : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
  replace("{CHANNEL_BIT}", ChannelBitSql("channel"));
  replace("{SCHOOL_CARDS}", SchoolCellsRecountSql(false));
  replace("{SCHOOL_HOLDERS}", SchoolCellsRecountSql(true));
  replace("{DATE}", d == Dialect::kSqlite ? "TEXT" : "DATE");
  return sql;
}

}  // namespace

std::string ChannelBitSql(const std::string& column) {
  return "(CASE " + column +
         " WHEN 'digital' THEN 1 WHEN 'subscription' THEN 2 WHEN 'starter' THEN 4 ELSE 8 END)";
}

const std::vector<std::pair<std::string, std::string>>& SchoolDimensions() {
  static const std::vector<std::pair<std::string, std::string>> kDims = {
      {"all", ""}, {"province", "province"}, {"network", "network"}, {"role", "role"}, {"level", "level"}};
  return kDims;
}

std::string SchoolCellsRecountSql(bool holders) {
  std::string sql;
  for (const auto& [dim, column] : SchoolDimensions()) {
    const std::string grp = column.empty() ? "''" : "r." + column;
    const std::string group_by = column.empty() ? "" : ", r." + column;
    if (!sql.empty()) sql += " UNION ALL ";
    if (holders)  // one row per person: the sum of distinct channel bits is their OR
      sql += "SELECT sy, '" + dim + "', g, m, count(*) FROM (SELECT c.school_year AS sy, " + grp +
             " AS g, sum(DISTINCT " + ChannelBitSql("c.channel") +
             ") AS m FROM cards c JOIN roster r ON r.id = c.roster_id WHERE c.status = 'active' GROUP BY "
             "c.school_year" +
             group_by + ", r.staff_key) AS h GROUP BY sy, g, m";
    else
      sql +=
          "SELECT c.school_year, '" + dim + "', " + grp +
          ", c.channel, count(*) FROM cards c JOIN roster r ON r.id = c.roster_id WHERE c.status = 'active' "
          "GROUP BY c.school_year" +
          group_by + ", c.channel";
  }
  return sql;
}

int LatestSchemaVersion() { return Migrations().back().version; }

Result<> Migrate(Db& db, Time now) {
  if (auto exists = db.Query("SELECT max(version), count(*) FROM schema_migrations");
      exists && !exists->empty() && (*exists)[0][0]) {
    int version = std::stoi(*(*exists)[0][0]);
    if (version > LatestSchemaVersion())
      return Fail(Code::kFailedPrecondition,
                  "the ledger has schema version " + *(*exists)[0][0] + ", newer than this program knows (" +
                      std::to_string(LatestSchemaVersion()) + "); upgrade lerarenkaart");
    // Every migration applied: no write transaction, so a ledger on a read-only or full disk
    // still opens for reading.
    if (version == LatestSchemaVersion() && (*exists)[0][1] == std::to_string(Migrations().size())) return {};
  }
  for (const Migration& m : Migrations()) {
    Transaction tx(db);
    if (auto r = tx.Begin(); !r) return r;
    if (auto r = db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "applied_at BIGINT NOT NULL)");
        !r)
      return r;
    auto have = db.Query("SELECT version FROM schema_migrations WHERE version = $1", {int64_t{m.version}});
    if (!have) return std::unexpected(have.error());
    if (!have->empty()) continue;
    std::string sql =
        Render(m.sql, db.dialect()) + (db.dialect() == Dialect::kSqlite ? m.sqlite_sql : m.postgres_sql);
    if (auto r = sql.find_first_not_of(" \n") == std::string::npos ? Result<>() : db.Exec(sql); !r)
      return Fail(r.error().code, "schema migration " + std::to_string(m.version) + ": " + r.error().message);
    if (auto r = db.Execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                            {int64_t{m.version}, int64_t{now.time_since_epoch().count()}});
        !r)
      return std::unexpected(r.error());
    if (auto r = tx.Commit(); !r) return r;
  }
  return {};
}

}  // namespace lk::ledger::internal
