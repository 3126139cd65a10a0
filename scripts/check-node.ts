// Fails fast, with the way out, when the project's scripts run on an older Node.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `Zi needs Node.js 24 or newer; this is ${process.version}. Run it through npm (npm test, npx zi), which uses the Node 24 that npm install put in node_modules.`,
  );
  process.exit(1);
}
console.log(`node ${process.version}`);
