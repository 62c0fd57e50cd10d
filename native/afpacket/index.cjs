// Loads the compiled addon; the error names the command that builds it.
'use strict';
try {
  module.exports = require('./build/Release/afpacket.node');
} catch (err) {
  err.message = `tcpmitm-afpacket is not built (${err.message.split('\n')[0]}); run: npm rebuild tcpmitm-afpacket (needs g++, make, python3)`;
  throw err;
}
