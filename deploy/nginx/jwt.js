// Reference gateway for the chat server: verifies HS256 JWTs in nginx (njs) and forwards the
// user to the chat server as X-User-Id, X-Nickname, X-Email, X-Profile-Url.
//
// It fails closed. The config lets a request on only when a handler returns "1"; any other value
// refuses it, including the empty one nginx leaves when a js_set handler throws. No handler here
// throws anyway: each catches everything (njs would log the exception with the request line).
//
// The token comes from `Authorization: Bearer <jwt>` or, for browsers opening a WebSocket (which
// cannot set headers), from a `bearer.<jwt>` entry in the subprotocol list:
// `new WebSocket(url, ['chat', 'bearer.' + jwt])`. Exactly one token: two (in either place or
// both) or another Authorization scheme is refused. A `token` or `access_token` query parameter is
// refused, because nginx writes the request line, query included, into its error log.
//
// Checked: the length (8 KiB at most); the signature (HS256 with JWT_SECRET, compared in constant
// time, before anything is parsed); header and claims (JSON objects, `alg` exactly HS256, no
// `crit`); `exp` (required), `nbf` and `iat` (times in seconds up to the year 9999; with
// JWT_LEEWAY_SECONDS of leeway, default 5, not expired, not before `nbf`, `iat` not in the future);
// `sub` (1 to 255 characters, no control characters); `iss` and `aud` when JWT_ISSUER and
// JWT_AUDIENCE are set. Claims forwarded are strings only, and must be well-formed Unicode.
//
// njs gives every request its own copy of this module, so `verdict` and `query` are per request.

import crypto from 'crypto';

var IDENTITY_PARAMS = ['user_id', 'nickname', 'email', 'profile_url'];
var TOKEN_PARAMS = ['token', 'access_token'];
var BEARER_PROTOCOL = /^bearer\./i;
var BASE64URL = /^[A-Za-z0-9_-]+$/;
var CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
var MAX_TOKEN_LENGTH = 8192;
var MAX_SUBJECT_LENGTH = 255;
var MAX_LEEWAY_SECONDS = 300;
// The last second of the year 9999: no identity provider issues later times; this keeps out 1e308.
var MAX_NUMERIC_DATE = 253402300799;
// njs turns lone surrogates and invalid UTF-8 into U+FFFD: such a claim cannot be forwarded as sent.
var REPLACEMENT = /\uFFFD/;

var verdict;
var query;

function settings() {
    var secret = process.env.JWT_SECRET || '';
    if (secret === '') return { error: 'gateway misconfigured: JWT_SECRET is not set' };
    var leeway = process.env.JWT_LEEWAY_SECONDS || '5';
    if (!/^[0-9]{1,3}$/.test(leeway) || Number(leeway) > MAX_LEEWAY_SECONDS) {
        return { error: 'gateway misconfigured: JWT_LEEWAY_SECONDS must be a whole number of seconds from 0 to ' + MAX_LEEWAY_SECONDS };
    }
    return {
        secret: secret,
        leeway: Number(leeway),
        issuer: process.env.JWT_ISSUER || '',
        audience: process.env.JWT_AUDIENCE || '',
    };
}

// The values of every request header called `name`, in the order sent.
function headerValues(r, name) {
    var wanted = name.toLowerCase();
    var values = [];
    r.rawHeadersIn.forEach(function (header) {
        if (header[0].toLowerCase() === wanted) values.push(header[1]);
    });
    return values;
}

// The offered WebSocket subprotocols, from every Sec-WebSocket-Protocol header.
function offeredProtocols(r) {
    var entries = [];
    headerValues(r, 'Sec-WebSocket-Protocol').forEach(function (value) {
        value.split(',').forEach(function (entry) {
            entry = entry.trim();
            if (entry !== '') entries.push(entry);
        });
    });
    return entries;
}

function tokenOf(r) {
    var found = [];
    headerValues(r, 'Authorization').forEach(function (value) {
        var match = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i.exec(value);
        found.push(match ? match[1] : null);
    });
    offeredProtocols(r).forEach(function (entry) {
        if (BEARER_PROTOCOL.test(entry)) found.push(entry.slice('bearer.'.length));
    });
    if (found.length === 0) return { error: 'no token: send Authorization: Bearer <jwt>, or from a browser the WebSocket subprotocol bearer.<jwt>' };
    if (found.length > 1) return { error: 'more than one token' };
    if (found[0] === null) return { error: 'Authorization must use the Bearer scheme' };
    return { token: found[0] };
}

// The decoded JSON object, or null for anything else (null, an array, a number, bad JSON).
function decodeObject(part) {
    var value;
    try {
        value = JSON.parse(Buffer.from(part, 'base64url').toString());
    } catch (e) {
        return null;
    }
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
}

// Compares `given` with `expected` in a time that depends only on the expected length.
function sameString(expected, given) {
    var diff = expected.length ^ given.length;
    for (var i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ (given.charCodeAt(i) | 0);
    return diff === 0;
}

function isNumericDate(value) {
    return typeof value === 'number' && value >= 0 && value <= MAX_NUMERIC_DATE;
}

function audienceMatches(aud, wanted) {
    if (typeof aud === 'string') return aud === wanted;
    return Array.isArray(aud) && aud.some(function (entry) { return entry === wanted; });
}

function stringClaim(claims, name) {
    return typeof claims[name] === 'string' ? claims[name] : '';
}

function check(r) {
    var config = settings();
    if (config.error) return config;
    var found = tokenOf(r);
    if (found.error) return found;
    var parts = found.token.split('.');
    if (found.token.length > MAX_TOKEN_LENGTH || parts.length !== 3 || !parts.every(function (p) { return BASE64URL.test(p); })) {
        return { error: 'malformed token' };
    }
    // The signature first: nothing unsigned is parsed.
    var expected = crypto.createHmac('sha256', config.secret).update(parts[0] + '.' + parts[1]).digest('base64url');
    if (!sameString(expected, parts[2])) return { error: 'bad token signature' };
    var header = decodeObject(parts[0]);
    if (header === null) return { error: 'malformed token header' };
    if (header.alg !== 'HS256') return { error: 'unsupported token algorithm' };
    if (header.crit !== undefined) return { error: 'unsupported critical token header' };
    var claims = decodeObject(parts[1]);
    if (claims === null) return { error: 'malformed token claims' };

    var now = Date.now() / 1000;
    if (!isNumericDate(claims.exp)) return { error: 'token has no valid exp' };
    if (now >= claims.exp + config.leeway) return { error: 'token expired' };
    if (claims.nbf !== undefined && !isNumericDate(claims.nbf)) return { error: 'token has an invalid nbf' };
    if (claims.nbf !== undefined && now + config.leeway < claims.nbf) return { error: 'token not yet valid' };
    if (claims.iat !== undefined && !isNumericDate(claims.iat)) return { error: 'token has an invalid iat' };
    if (claims.iat !== undefined && now + config.leeway < claims.iat) return { error: 'token issued in the future' };
    if (config.issuer !== '' && claims.iss !== config.issuer) return { error: 'token from another issuer' };
    if (config.audience !== '' && !audienceMatches(claims.aud, config.audience)) return { error: 'token for another audience' };
    var sub = claims.sub;
    if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUBJECT_LENGTH || CONTROL.test(sub)) {
        return { error: 'token has no valid subject' };
    }

    var identity = {
        userId: sub,
        nickname: stringClaim(claims, 'nickname') || stringClaim(claims, 'name') || sub,
        email: stringClaim(claims, 'email'),
        picture: stringClaim(claims, 'picture'),
    };
    for (var field in identity) {
        if (REPLACEMENT.test(identity[field])) return { error: 'token claims are not well-formed Unicode' };
        // Header values must be Latin-1: every claim is percent-encoded (the chat server decodes it).
        identity[field] = encodeURIComponent(identity[field]);
    }
    return { identity: identity };
}

function verify(r) {
    if (verdict === undefined) {
        try {
            verdict = check(r);
        } catch (e) {
            verdict = { error: 'malformed token' };
        }
    }
    return verdict;
}

function decodeComponent(text) {
    try {
        return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch (e) {
        return null;
    }
}

// The request URI as it goes upstream: identity query parameters removed (identity comes from
// the token alone). Refused when a parameter is not valid percent-encoding or carries a token.
function readQuery(r) {
    var uri = r.variables.request_uri;
    var start = uri.indexOf('?');
    if (start === -1) return { ok: true, uri: uri };
    var kept = [];
    var pairs = uri.slice(start + 1).split('&');
    for (var i = 0; i < pairs.length; i++) {
        if (pairs[i] === '') continue;
        var eq = pairs[i].indexOf('=');
        var name = decodeComponent(eq === -1 ? pairs[i] : pairs[i].slice(0, eq));
        if (name === null) return { ok: false };
        name = name.toLowerCase();
        if (TOKEN_PARAMS.indexOf(name) !== -1) return { ok: false, token: true };
        if (decodeComponent(eq === -1 ? '' : pairs[i].slice(eq + 1)) === null) return { ok: false };
        if (IDENTITY_PARAMS.indexOf(name) === -1) kept.push(pairs[i]);
    }
    return { ok: true, uri: uri.slice(0, start) + (kept.length ? '?' + kept.join('&') : '') };
}

function readQueryOnce(r) {
    if (query === undefined) query = readQuery(r);
    return query;
}

// Wraps a js_set handler: whatever it throws or returns that is not a string becomes `fallback`.
function guarded(handler, fallback) {
    return function (r) {
        try {
            var value = handler(r);
            return typeof value === 'string' ? value : fallback;
        } catch (e) {
            return fallback;
        }
    };
}

function identityField(name) {
    return guarded(function (r) {
        var identity = verify(r).identity;
        return identity ? identity[name] : '';
    }, '');
}

export default {
    // "1" for a verified token; anything else refuses.
    ok: guarded(function (r) { return verify(r).identity ? '1' : '0'; }, '0'),
    // Why the token was refused, for the 401's detail (constant texts, safe inside JSON).
    problem: guarded(function (r) { return verify(r).error || ''; }, 'malformed token'),
    userId: identityField('userId'),
    nickname: identityField('nickname'),
    email: identityField('email'),
    picture: identityField('picture'),
    // "1" when the query may go on; "0" when it is not valid percent-encoding or carries a token.
    queryOk: guarded(function (r) { return readQueryOnce(r).ok ? '1' : '0'; }, '0'),
    tokenInQuery: guarded(function (r) { return readQueryOnce(r).token ? '1' : '0'; }, '0'),
    // The request URI without identity query parameters; '' when refused.
    upstreamUri: guarded(function (r) { return readQueryOnce(r).uri || ''; }, ''),
    // Sec-WebSocket-Protocol without the bearer.<jwt> entries: the token goes no further.
    forwardedProtocols: guarded(function (r) {
        return offeredProtocols(r).filter(function (entry) { return !BEARER_PROTOCOL.test(entry); }).join(', ');
    }, ''),
    gatewaySecret: guarded(function () { return process.env.GATEWAY_SECRET || ''; }, ''),
};
