// Every test runs in the environment of a user's fresh machine, not of the
// machine that happens to run it: variables that change how programs buffer
// their output (set on CI's machines, absent on a fresh Debian) are removed,
// so a test that needs line-by-line output must get it from tcpmitm itself.

for (const name of ['PYTHONUNBUFFERED', '_STDBUF_I', '_STDBUF_O', '_STDBUF_E']) delete process.env[name];
