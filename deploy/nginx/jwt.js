// Reference gateway for the chat server: verifies HS256 JWTs in nginx (njs) and forwards the
// user to the chat server as X-User-Id, X-Nickname, X-Email, X-Profile-Url.
//
// The token comes from `Authorization: Bearer <jwt>` or, for browsers opening a WebSocket
// (which cannot set headers), from the `token` query parameter. Checked: the signature
// (HS256 only, with the JWT_SECRET environment variable), `exp` (required) and `nbf`.
//
// njs gives every request its own copy of this module, so `verdict` is per request.

import crypto from 'crypto';

var LEEWAY_SECONDS = 5;
var IDENTITY_PARAMS = ['user_id', 'nickname', 'email', 'profile_url', 'token'];
var verdict;

function tokenOf(r) {
    var auth = r.headersIn['Authorization'] || '';
    var match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
    var query = r.variables.args || '';
    var found = /(?:^|&)token=([^&]*)/.exec(query);
    return found ? decodeURIComponent(found[1]) : '';
}

function decodePart(part) {
    return JSON.parse(Buffer.from(part, 'base64url').toString());
}

// Compares two strings without stopping at the first difference.
function sameString(a, b) {
    if (a.length !== b.length) return false;
    var diff = 0;
    for (var i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return diff === 0;
}

function check(r) {
    var secret = process.env.JWT_SECRET;
    if (!secret) return { error: 'gateway misconfigured: JWT_SECRET is not set' };
    var token = tokenOf(r);
    if (!token) return { error: 'no token: send Authorization: Bearer <jwt> or ?token=<jwt>' };
    var parts = token.split('.');
    if (parts.length !== 3) return { error: 'malformed token' };
    var header, claims;
    try {
        header = decodePart(parts[0]);
        claims = decodePart(parts[1]);
    } catch (e) {
        return { error: 'malformed token' };
    }
    if (header.alg !== 'HS256') return { error: 'unsupported token algorithm' };
    var expected = crypto.createHmac('sha256', secret).update(parts[0] + '.' + parts[1]).digest('base64url');
    if (!sameString(expected, parts[2])) return { error: 'bad token signature' };
    var now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || now >= claims.exp + LEEWAY_SECONDS) return { error: 'token expired' };
    if (typeof claims.nbf === 'number' && now + LEEWAY_SECONDS < claims.nbf) return { error: 'token not yet valid' };
    if (typeof claims.sub !== 'string' || claims.sub === '') return { error: 'token has no subject' };
    return { claims: claims };
}

function verify(r) {
    if (verdict === undefined) verdict = check(r);
    return verdict;
}

function claim(r, name) {
    var v = verify(r);
    return v.claims && typeof v.claims[name] === 'string' ? v.claims[name] : '';
}

// '' when the token is good, else why not (nginx treats a non-empty value as true).
function error(r) {
    return verify(r).error || '';
}

// Header values must be Latin-1: every claim is percent-encoded (the chat server decodes it).
function userId(r) { return encodeURIComponent(claim(r, 'sub')); }
function nickname(r) { return encodeURIComponent(claim(r, 'nickname') || claim(r, 'name') || claim(r, 'sub')); }
function email(r) { return encodeURIComponent(claim(r, 'email')); }
function picture(r) { return encodeURIComponent(claim(r, 'picture')); }

// The request URI without identity query parameters or the token: identity comes from the token alone.
function upstreamUri(r) {
    var uri = r.variables.request_uri;
    var q = uri.indexOf('?');
    if (q === -1) return uri;
    var kept = uri.slice(q + 1).split('&').filter(function (pair) {
        var name = pair.split('=')[0];
        try { name = decodeURIComponent(name); } catch (e) { return false; }
        return pair !== '' && IDENTITY_PARAMS.indexOf(name) === -1;
    });
    return uri.slice(0, q) + (kept.length ? '?' + kept.join('&') : '');
}

function gatewaySecret(r) {
    return process.env.GATEWAY_SECRET || '';
}

export default { error, userId, nickname, email, picture, upstreamUri, gatewaySecret };
