// Byte units, written once: sizes in config, limits and messages are in KiB/MiB.
export const KiB = 1024;
export const MiB = 1024 * KiB;
