/**
 * Geo commands of the embedded store. As in Redis, a geo set is a sorted set whose scores are
 * 52-bit interleaved geohashes (longitude range ±180, latitude ±85.05112878, 26 steps each), and
 * positions, distances (haversine, Earth radius 6372797.560856 m) and the GEOHASH strings are
 * computed the way Redis 7.0 computes them, so answers match byte for byte. Difference: GEOSEARCH
 * without ASC/DESC returns matches in score order; Redis returns them in the order of the geohash
 * boxes it scans (the same set of members).
 */
import type { Reply } from "../reply";
import { err, parseFloatArg, parseInt64, SYNTAX } from "./db";
import type { CommandTable, Ctx } from "./types";
import { sorted } from "./zsets";

const LON_MIN = -180;
const LON_MAX = 180;
const LAT_MIN = -85.05112878;
const LAT_MAX = 85.05112878;
const STEP = 26;
const EARTH_RADIUS = 6372797.560856;
const D_R = Math.PI / 180.0;

type Range = { min: number; max: number };
const WGS84_LON: Range = { min: LON_MIN, max: LON_MAX };
const WGS84_LAT: Range = { min: LAT_MIN, max: LAT_MAX };

/** geohashEncode: interleaved bits (longitude in the odd positions), as a number (< 2^52). */
function encode(lonR: Range, latR: Range, lon: number, lat: number): number {
  let latOff = (lat - latR.min) / (latR.max - latR.min);
  let lonOff = (lon - lonR.min) / (lonR.max - lonR.min);
  latOff *= 2 ** STEP;
  lonOff *= 2 ** STEP;
  const x = Math.trunc(latOff) >>> 0;
  const y = Math.trunc(lonOff) >>> 0;
  let bits = 0;
  for (let i = STEP - 1; i >= 0; i--) bits = bits * 4 + ((y >>> i) & 1) * 2 + ((x >>> i) & 1);
  return bits;
}

/** geohashDecodeToLongLatWGS84 of a score. */
function decode(score: number): [number, number] {
  const bits = Math.trunc(score);
  let x = 0; // latitude
  let y = 0; // longitude
  let rest = bits;
  for (let i = 0; i < STEP; i++) {
    const pair = rest % 4;
    rest = Math.floor(rest / 4);
    x += (pair & 1) * 2 ** i;
    y += ((pair >> 1) & 1) * 2 ** i;
  }
  const latScale = LAT_MAX - LAT_MIN;
  const lonScale = LON_MAX - LON_MIN;
  const latMin = LAT_MIN + ((x * 1.0) / 2 ** STEP) * latScale;
  const latMax = LAT_MIN + (((x + 1) * 1.0) / 2 ** STEP) * latScale;
  const lonMin = LON_MIN + ((y * 1.0) / 2 ** STEP) * lonScale;
  const lonMax = LON_MIN + (((y + 1) * 1.0) / 2 ** STEP) * lonScale;
  let lon = (lonMin + lonMax) / 2;
  if (lon > LON_MAX) lon = LON_MAX;
  if (lon < LON_MIN) lon = LON_MIN;
  let lat = (latMin + latMax) / 2;
  if (lat > LAT_MAX) lat = LAT_MAX;
  if (lat < LAT_MIN) lat = LAT_MIN;
  return [lon, lat];
}

function latDistance(lat1: number, lat2: number): number {
  return EARTH_RADIUS * Math.abs(lat2 * D_R - lat1 * D_R);
}

/** geohashGetDistance (Redis 7.0). */
function distance(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const lon1r = lon1 * D_R;
  const lon2r = lon2 * D_R;
  const v = Math.sin((lon2r - lon1r) / 2);
  if (v === 0.0) return latDistance(lat1, lat2);
  const lat1r = lat1 * D_R;
  const lat2r = lat2 * D_R;
  const u = Math.sin((lat2r - lat1r) / 2);
  const a = u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v;
  return 2.0 * EARTH_RADIUS * Math.asin(Math.sqrt(a));
}

/** "%.17Lf" with trailing zeros removed (addReplyHumanLongDouble). */
function human(d: number): string {
  let s = d.toFixed(17);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s === "-0" ? "0" : s;
}

/** C's "%.<digits>f". */
const fixed = (d: number, digits: number) => d.toFixed(digits);

function unit(u: string): number {
  switch (u.toLowerCase()) {
    case "m":
      return 1;
    case "km":
      return 1000;
    case "ft":
      return 0.3048;
    case "mi":
      return 1609.34;
    default:
      throw err("ERR unsupported unit provided. please use M, KM, FT, MI");
  }
}

function lonLat(lonArg: string, latArg: string): [number, number] {
  const lon = parseFloatArg(lonArg);
  const lat = parseFloatArg(latArg);
  if (lon < LON_MIN || lon > LON_MAX || lat < LAT_MIN || lat > LAT_MAX)
    throw err(`ERR invalid longitude,latitude pair ${fixed(lon, 6)},${fixed(lat, 6)}`);
  return [lon, lat];
}

type Shape = { kind: "radius"; radius: number } | { kind: "box"; width: number; height: number };

function search(ctx: Ctx, srcKey: string, opts: string[], store: string | null) {
  const z = ctx.db.get(srcKey, "zset");
  const cmd = store === null ? "GEOSEARCH" : "GEOSEARCHSTORE";
  let from: { member: string } | { xy: [number, number] } | undefined;
  let shape: Shape | undefined;
  let conversion = 1;
  let withDist = false;
  let withHash = false;
  let withCoord = false;
  let sort: "asc" | "desc" | "none" = "none";
  let count = 0;
  let any = false;
  let storeDist = false;
  for (let i = 0; i < opts.length; i++) {
    const a = opts[i]!.toLowerCase();
    const rem = opts.length - i - 1;
    if (a === "withdist") withDist = true;
    else if (a === "withhash") withHash = true;
    else if (a === "withcoord") withCoord = true;
    else if (a === "any") any = true;
    else if (a === "asc") sort = "asc";
    else if (a === "desc") sort = "desc";
    else if (a === "count" && rem >= 1) {
      count = parseInt64(opts[++i]!);
      if (count <= 0) throw err("ERR COUNT must be > 0");
    } else if (a === "storedist" && store !== null) storeDist = true;
    else if (a === "frommember" && rem >= 1 && !from) {
      from = { member: opts[++i]! };
    } else if (a === "fromlonlat" && rem >= 2 && !from) {
      from = { xy: lonLat(opts[i + 1]!, opts[i + 2]!) };
      i += 2;
    } else if (a === "byradius" && rem >= 2 && !shape) {
      const r = parseFloatArg(opts[i + 1]!, "ERR need numeric radius");
      if (r < 0) throw err("ERR radius cannot be negative");
      conversion = unit(opts[i + 2]!);
      shape = { kind: "radius", radius: r };
      i += 2;
    } else if (a === "bybox" && rem >= 3 && !shape) {
      const w = parseFloatArg(opts[i + 1]!, "ERR need numeric width");
      const h = parseFloatArg(opts[i + 2]!, "ERR need numeric height");
      if (w < 0 || h < 0) throw err("ERR height or width cannot be negative");
      conversion = unit(opts[i + 3]!);
      shape = { kind: "box", width: w, height: h };
      i += 3;
    } else throw err(SYNTAX);
  }
  if (store !== null && (withDist || withHash || withCoord))
    throw err("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
  if (!from)
    throw err(`ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ${cmd.toLowerCase()}`);
  if (!shape) throw err(`ERR exactly one of BYRADIUS and BYBOX can be specified for ${cmd.toLowerCase()}`);
  if (any && !count) throw err("ERR the ANY argument requires COUNT argument");
  if (!z) {
    if (store !== null) {
      ctx.db.delete(store);
      return 0;
    }
    return [];
  }
  if (count && sort === "none" && !any) sort = "asc";
  let center: [number, number];
  if ("member" in from) {
    const s = z.get(from.member);
    if (s === undefined) throw err("ERR could not decode requested zset member");
    center = decode(s);
  } else center = from.xy;
  const [cx, cy] = center;
  const found: { member: string; score: number; lon: number; lat: number; dist: number }[] = [];
  for (const [member, score] of sorted(z)) {
    const [lon, lat] = decode(score);
    let dist: number;
    if (shape.kind === "radius") {
      dist = distance(cx, cy, lon, lat);
      if (dist > shape.radius * conversion) continue;
    } else {
      if (latDistance(lat, cy) > (shape.height * conversion) / 2) continue;
      if (distance(lon, lat, cx, lat) > (shape.width * conversion) / 2) continue;
      dist = distance(cx, cy, lon, lat);
    }
    found.push({ member, score, lon, lat, dist });
    if (any && found.length >= count) break;
  }
  if (sort === "asc") found.sort((a, b) => a.dist - b.dist);
  else if (sort === "desc") found.sort((a, b) => b.dist - a.dist);
  const out = count ? found.slice(0, count) : found;
  if (store !== null) {
    if (!out.length) {
      ctx.db.delete(store);
      return 0;
    }
    const dest = new Map<string, number>();
    for (const p of out) dest.set(p.member, storeDist ? p.dist / conversion : p.score);
    ctx.db.put(store, { type: "zset", v: dest });
    return out.length;
  }
  return out.map((p): Reply => {
    if (!withDist && !withHash && !withCoord) return p.member;
    const row: Reply[] = [p.member];
    if (withDist) row.push(fixed(p.dist / conversion, 4));
    if (withHash) row.push(p.score);
    if (withCoord) row.push([human(p.lon), human(p.lat)]);
    return row;
  });
}

export const geoCommands: CommandTable = {
  geoadd: {
    arity: -5,
    run(ctx, [key, ...rest]) {
      let i = 0;
      const flags: string[] = [];
      for (; i < rest.length; i++) {
        const o = rest[i]!.toUpperCase();
        if (o === "NX" || o === "XX" || o === "CH") flags.push(o);
        else break;
      }
      const triples = rest.slice(i);
      if (triples.length % 3 !== 0 || (flags.includes("NX") && flags.includes("XX"))) throw err(SYNTAX);
      const pairs: string[] = [];
      for (let j = 0; j < triples.length; j += 3) {
        const [lon, lat] = lonLat(triples[j]!, triples[j + 1]!);
        pairs.push(String(encode(WGS84_LON, WGS84_LAT, lon, lat)), triples[j + 2]!);
      }
      return ctx.call(["zadd", key!, ...flags, ...pairs]);
    },
  },
  geopos: {
    arity: -2,
    run(ctx, [key, ...members]) {
      const z = ctx.db.get(key!, "zset");
      return members.map((m) => {
        const s = z?.get(m);
        if (s === undefined) return null;
        const [lon, lat] = decode(s);
        return [human(lon), human(lat)];
      });
    },
  },
  geodist: {
    arity: -4,
    run(ctx, [key, a, b, u, ...extra]) {
      if (extra.length) throw err(SYNTAX);
      const conv = u === undefined ? 1 : unit(u);
      const z = ctx.db.get(key!, "zset");
      const sa = z?.get(a!);
      const sb = z?.get(b!);
      if (sa === undefined || sb === undefined) return null;
      const [x1, y1] = decode(sa);
      const [x2, y2] = decode(sb);
      return fixed(distance(x1, y1, x2, y2) / conv, 4);
    },
  },
  geohash: {
    arity: -2,
    run(ctx, [key, ...members]) {
      const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz";
      const z = ctx.db.get(key!, "zset");
      return members.map((m) => {
        const s = z?.get(m);
        if (s === undefined) return null;
        const [lon, lat] = decode(s);
        const bits = encode({ min: -180, max: 180 }, { min: -90, max: 90 }, lon, lat);
        let out = "";
        for (let i = 0; i < 11; i++) {
          const idx = i === 10 ? 0 : Math.floor(bits / 2 ** (52 - (i + 1) * 5)) % 32;
          out += alphabet[idx];
        }
        return out;
      });
    },
  },
  geosearch: { arity: -7, run: (ctx, [key, ...opts]) => search(ctx, key!, opts, null) },
  geosearchstore: { arity: -8, run: (ctx, [dest, key, ...opts]) => search(ctx, key!, opts, dest!) },
};
