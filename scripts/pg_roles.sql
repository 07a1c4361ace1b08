-- Least privilege for a vertebro registry on PostgreSQL (docs/registry.md, "Roles and
-- row-level security"). Run once as a superuser (or a role with CREATEROLE and CREATEDB):
--
--   psql -v owner=vertebro_owner -v app=vertebro_app -v db=vertebro -f scripts/pg_roles.sql
--
-- then, as the owner: `vertebro db init --db postgresql://vertebro_owner@HOST/vertebro ...`
-- (migrations), `vertebro db grant vertebro_app --db postgresql://vertebro_owner@HOST/vertebro`
-- (again after every `vertebro db upgrade`), and run vertebro day to day with
-- VERTEBRO_DATABASE_URL=postgresql://vertebro_app@HOST/vertebro. Set the passwords with
-- \password in psql (never on a command line), and require TLS in pg_hba.conf (hostssl).

\set ON_ERROR_STOP on

-- the owner: owns the schema, runs migrations, nothing else day to day
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
-- the application: owns nothing, so no DDL and no TRUNCATE; row-level security applies
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;

CREATE DATABASE :"db" OWNER :"owner" ENCODING 'UTF8';
\connect :"db"
-- nobody but the owner creates objects, temporary tables or schemas in this database
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"owner";
GRANT CONNECT ON DATABASE :"db" TO :"app";
