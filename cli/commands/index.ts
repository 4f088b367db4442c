// Every client command, in the order `stowd --help` lists them.
import type { Command } from "../command.js";
import { cat } from "./cat.js";
import { cp } from "./cp.js";
import { du } from "./du.js";
import { get } from "./get.js";
import { info } from "./info.js";
import { ls } from "./ls.js";
import { mv } from "./mv.js";
import { put } from "./put.js";
import { rm } from "./rm.js";
import { sign } from "./sign.js";
import { stat } from "./stat.js";
import { sync } from "./sync.js";

export const COMMANDS: readonly Command[] = [ls, stat, cat, get, put, cp, sync, mv, rm, du, sign, info];
