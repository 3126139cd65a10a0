/** The node's version, in its own module so `zi` can print it without loading the node. */
export const VERSION = '0.1.0';
