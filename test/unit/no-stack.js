// Mapped in place of test/harness/stack (and the database and global setup) for the `unit` jest
// project: unit tests run without PostgreSQL, Temporal or SES, so importing them is a mistake.
throw new Error('unit tests must not import the test stack (test/harness/stack, database, global setup): move the test out of test/unit/');
