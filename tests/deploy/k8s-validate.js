#!/usr/bin/env node
// k8s-validate FILE...: checks every document of the given YAML files (or of
// stdin, "-") against the Kubernetes OpenAPI schema that kubernetes-models
// compiles into one validator per kind: types, required fields, formats.
// Those validators accept unknown fields, so each document is validated
// through a proxy that records which keys the validator read: a key it never
// read is not in the schema and is reported as an unknown field (a typo like
// "hostNetwrk" would otherwise be silently dropped by the API server).
// Kinds without a built-in schema (CRDs, kustomize files) are errors.
// Prints one line per fault, "FILE: Kind/name: PATH: message"; exit 1 on
// any fault, 2 on a usage or installation problem.
// k8s-validate --json FILE...: prints the documents as one JSON array instead
// (for jq), without validating.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const prefix = process.env.SGBPF_NODE_PREFIX || '/usr/local/lib/sgbpf-node';
const nodeRequire = createRequire(path.join(prefix, 'package.json'));

function load(mod) {
	try {
		return nodeRequire(mod);
	} catch (e) {
		console.error(`k8s-validate: cannot load ${mod} from ${prefix}: ${e.message}; ` +
			'run scripts/deps.sh (or set SGBPF_NODE_PREFIX)');
		process.exit(2);
	}
}

const yaml = load('js-yaml');

// model module of an apiVersion/kind: "apps/v1" + DaemonSet ->
// kubernetes-models/apps/v1/DaemonSet; core "v1" -> kubernetes-models/v1/Kind.
function modelOf(apiVersion, kind) {
	if (typeof apiVersion !== 'string' || typeof kind !== 'string' ||
	    !/^[A-Za-z0-9.\-/]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind))
		return null;
	try {
		const m = nodeRequire(`kubernetes-models/${apiVersion}/${kind}`);
		return m[kind] || null;
	} catch (e) {
		if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED')
			return null;
		throw e;
	}
}

// Wraps value so that every own key the validator reads is recorded in
// objs (one entry per object reached: its path, the object, the keys read).
function track(value, where, objs) {
	if (value === null || typeof value !== 'object')
		return value;
	const read = new Set();
	const kids = new Map();

	objs.push({ where, value, read });
	return new Proxy(value, {
		get(t, k, recv) {
			if (typeof k !== 'string' || !Object.prototype.hasOwnProperty.call(t, k))
				return Reflect.get(t, k, recv);
			read.add(k);
			if (!kids.has(k))
				kids.set(k, track(t[k], Array.isArray(t) ? `${where}[${k}]` : `${where}.${k}`,
						  objs));
			return kids.get(k);
		},
		has(t, k) {
			if (typeof k === 'string')
				read.add(k);
			return Reflect.has(t, k);
		},
	});
}

function check(doc) {
	const faults = [];

	if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
		return ['<document>: not a mapping'];
	const Model = modelOf(doc.apiVersion, doc.kind);
	if (!Model)
		return [`<document>: no Kubernetes schema for apiVersion "${doc.apiVersion}" ` +
			`kind "${doc.kind}" (not a built-in kind, or a typo)`];
	const objs = [];
	try {
		Model.prototype.validate.call(track(doc, '', objs));
	} catch (e) {
		if (!Array.isArray(e.errors))
			throw e;
		for (const err of e.errors) {
			const p = (err.instancePath || '').replace(/\//g, '.') || '.';
			const extra = err.params && err.params.missingProperty ?
				` (${err.params.missingProperty})` : '';
			faults.push(`${p}: ${err.message || err.keyword}${extra}`);
		}
	}
	for (const o of objs) {
		if (Array.isArray(o.value))
			continue;
		for (const k of Object.keys(o.value))
			if (!o.read.has(k))
				faults.push(`${o.where || '.'}: unknown field "${k}"`);
	}
	return faults;
}

function main(files) {
	let bad = 0, docs = 0;
	const asJson = files[0] === '--json';

	if (asJson)
		files = files.slice(1);

	if (!files.length) {
		console.error('usage: k8s-validate FILE.yaml... ("-" for stdin)');
		return 2;
	}
	for (const f of files) {
		let text, all;

		try {
			text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
			all = yaml.loadAll(text);
		} catch (e) {
			console.error(`${f}: ${e.message.split('\n')[0]}`);
			bad++;
			continue;
		}
		if (asJson) {
			docs += all.filter((d) => d !== null && d !== undefined).length;
			process.stdout.write(JSON.stringify(all.filter((d) => d !== null &&
							     d !== undefined)) + '\n');
			continue;
		}
		for (const doc of all) {
			if (doc === null || doc === undefined)
				continue;
			docs++;
			const id = `${doc.kind}/${doc.metadata && doc.metadata.name}`;
			for (const fault of check(doc)) {
				console.error(`${f}: ${id}: ${fault}`);
				bad++;
			}
		}
	}
	if (asJson)
		return bad ? 1 : 0;
	if (!docs && !bad) {
		console.error('k8s-validate: no documents in ' + files.join(' '));
		return 1;
	}
	console.log(`k8s-validate: ${docs} documents, ${bad} faults`);
	return bad ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
