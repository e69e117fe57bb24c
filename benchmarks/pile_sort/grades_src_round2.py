# Round-2 hand grades. Carried-over (reader, paper) keep the round-1 grade/why/pile unless NOTE/OVERRIDE says otherwise.
import json
P1 = "generic ML-method phrase, other topic"
P2 = "old paper outside the reader's core"
P3 = "side-interest read matched by a generic topic phrase"
P4 = "weak match via a hub/wrong neighbour read"

# new (reader, paper) pairs: index -> (grade, why, pile)
NEW = {
5: ("bad", "Topic-model feature extraction (TF-IDF word pairs); nothing to do with graphs/KGs. Cosine 0.457 sits at the 0.45 floor, and it is tied to the DBpedia read with no phrase", P4),
6: ("bad", "Catastrophic forgetting in AI agents; linked to the RNN long-term-memory theory read only by 'memory'. Cosine 0.476 is near the floor, no phrase", P4),
11: ("bad", "Frame-semantic / semantic-dependency parsing from disjoint corpora: linguistic semantic parsing, not KB QA. A graph-learning reader would not open it. 'semantic parsing' matches the AMUSE side read only by a shared term. The 'cs.CL new to your reading' claim is false (AMUSE is cs.CL)", P3),
13: ("acceptable", "Neural NL-to-SQL interface to databases; adjacent to their QA-over-structured-data reads (AMUSE, KG QA), but not graph learning. The 'new subfield' framing is fair here (cs.DB)", None),
17: ("bad", "Table-to-text summarisation with a hierarchical-attention encoder-decoder; 'encoder decoder model' is a method-only phrase that the new filter missed (a variant spelling), matched to Graph2Seq", P1),
20: ("bad", "Generative QA over stock-analyst answers (free-text answers, no KB or graph); tied to AMUSE only by 'question answering'", P3),
21: ("acceptable", "Zero-shot semantic parsing to KB logical forms; next to their AMUSE / KG-QA reads, marginal for graph learning. 'cs.CL new to your reading' is false", None),
23: ("acceptable", "Cross-lingual semantic parsing is the closest match to the multilingual AMUSE read, but that read is a side interest and the target is a linguistic meaning representation, not a KG. 'cs.CL new' is false", None),
24: ("bad", "NE-Table, a trick for handling named entities in neural NLP (dialog/QA). Not graph or KG learning; 'question answering' is the only link. Graded bad for the parsing reader in round 1 too", P3),
25: ("acceptable", "Syntax- and table-aware NL-to-SQL; adjacent to their QA-over-structured-data reads (same call as #13), marginal for graph learning", None),
26: ("bad", "QANet, extractive reading-comprehension QA; same pattern as Phrase-Indexed QA and Semi-Supervised QA (bad in round 1). 'translation model' is junk", P3),
39: ("good", "Universal Dependencies parsing for code-switched Hindi-English; core dependency parsing, and the reason (arc-swift, 'dependency parsing') is accurate", None),
45: ("acceptable", "Back-translation for NMT; fits their MT side interest (source-syntax NMT read) but not parsing. Same call as the other MT picks in round 1", None),
52: ("acceptable", "Temporal relation extraction from partial annotation; structured-prediction IE (like the relation-extraction picks graded acceptable), but the reason points to the AMR-generation read, which is the wrong neighbour", None),
53: ("good", "Graph-based neural TAG parser (joint supertagging/POS/parsing); squarely core. The reason names a parsing read and is accurate, though it has no phrase", None),
64: ("acceptable", "Feng et al. on the pathologies of input-reduction interpretations; a notable NLP paper, but not parsing, and the neighbour (brain-decoding embeddings) is wrong", None),
65: ("acceptable", "Table-to-description generation; next to the AMR-generation read (data-to-text like 'Bootstrapping Generators'), marginal. Cosine 0.560 is near the floor", None),
67: ("bad", "Multi-task universal sentence embeddings; general representation learning hanging on the 'Attention Is All You Need' hub with no phrase (like Multi-Reward Summarization in round 1)", P4),
73: ("good", "Non-binary bottom-up shift-reduce constituent parsing; core transition-based parsing, correctly tied to the arc-swift read", None),
77: ("acceptable", "Open-vocabulary language model with a spelling model (Mielke & Eisner); solid NLP but not parsing. 'language model' ties it to AMR generation, a weak link, with cosine near the floor", None),
78: ("acceptable", "Hidden bias in RTE training data; a dataset-quality angle loosely next to the corpus-building read, but NLI is not their core and the reason gives no phrase", None),
85: ("bad", "SemEval argument-reasoning system (BiLSTM sentence encoder transfer); a shared-task system hanging on the AIAYN hub with no phrase, the same pattern as the SemEval sentiment/irony picks", P4),
88: ("acceptable", "SimpleQuestions KBQA baseline; adjacent to their semantic-parsing reads, but the reason points to the CommonCrawl corpus read (wrong neighbour)", None),
89: ("good", "Semantic-role structure injected into NMT via GCNs; it joins three of their reads (source-syntax NMT, GCNs for NER, semantic graphs), and the reason is accurate", None),
108: ("bad", "Shapley-value credit allocation for ad channels is explicitly not causal. It matches the ad-incrementality read only by topic (online advertising), at cosine 0.535 just above the 0.527 floor; the reader's core is biostatistical causal inference", P3),
}

# carried-over pairs whose reason changed: index -> note appended to why (grade kept unless in OVERRIDE)
NOTE = {
0: "R2: reason now 'centric view, hateful speech, activity patterns'. 'centric view' is still junk; grade kept",
3: "R2: 'online social networks' dropped, so the reason is bare; grade kept",
9: "R2: junk 'real world' dropped, but it still points to the DBpedia read rather than their graph-embedding reads; grade kept",
14: "R2: 'social media' dropped from the reason but the pick stayed; the phrase is hidden and the match is unchanged. Still bad",
22: "R2: 'recurrent neural network, rnn' dropped but 'deep recurrent' (also a method name) survived the filter. Still bad",
33: "R2: 'word embeddings' dropped; the reason still names the right read. Grade kept",
36: "R2: 'attention mechanism' dropped, leaving a bare 'Close to Attention Is All You Need'. The pick itself is unchanged, so it is still bad and the cause is still the method hub",
38: "R2: 'natural language' dropped; the remaining phrase 'neural encoder decoder' is method-only but harmless here. Grade kept",
42: "R2: generic 'natural language' dropped; grade kept",
43: "R2: junk 'models trained' dropped, but the reason still points to the wrong read (CommonCrawl corpus); grade kept",
48: "R2: generic 'natural language' dropped; grade kept",
50: "R2: 'attention mechanism' dropped; the pick is unchanged (AIAYN hub). Still bad",
54: "R2: 'word embedding' dropped; it still sits at the floor. Grade kept",
69: "R2: 'word embeddings' dropped; grade kept",
79: "R2: 'attention mechanism' dropped; the pick is unchanged (AIAYN hub). Still bad",
80: "R2: 'encoder decoder' dropped; 'bleu scores, machine translation' is accurate. Grade kept",
81: "R2: 'word embedding' dropped; the pick is unchanged. Still bad",
87: "R2: 'word embeddings' dropped, 'word vectors' kept; grade kept",
102: "R2: 'variational autoencoders' changed to 'latent space' (still method-level); grade kept",
}
OVERRIDE = {}

if __name__ == "__main__":
    r2 = [json.loads(l) for l in open("picks_round2.jsonl")]
    g1 = {(g["reader"], g["paper"]): g for g in map(json.loads, open("grades_round1.jsonl"))}
    out = []
    for i, p in enumerate(r2):
        k = (p["reader"], p["paper"])
        rec = {"reader": p["reader"], "day": p["day"], "paper": p["paper"], "title": p["title"], "kind": p["kind"]}
        if k in g1:
            assert i not in NEW, i
            g = g1[k]
            grade, why, pile = OVERRIDE.get(i, (g["grade"], g["why"], g.get("pile")))
            if i in NOTE:
                why = why + ". " + NOTE[i]
            r1 = g["grade"]
        else:
            grade, why, pile = NEW[i]
            r1 = None
        rec.update(grade=grade, why=why)
        if grade == "bad":
            assert pile, i
            rec["pile"] = pile
        rec["round1_grade"] = r1
        out.append(rec)
    assert len(out) == 120 and len(NEW) == 25
    with open("grades_round2.jsonl", "w") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("wrote", len(out))
