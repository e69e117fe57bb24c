import json, re, statistics as st
from collections import Counter, defaultdict
P=[json.loads(l) for l in open('picks_round1.jsonl')]
G=[json.loads(l) for l in open('grades_round1.jsonl')]
def share(rows):
    c=Counter(r['grade'] for r in rows); n=len(rows)
    return n, {k:(c[k], round(100*c[k]/n)) for k in ('good','acceptable','bad')}
print('overall', share(G))
for key in ('reader','kind'):
    print('--',key)
    for v in sorted(set(g[key] for g in G)):
        print(v, share([g for g in G if g[key]==v]))
print('-- piles')
bad=[(p,g) for p,g in zip(P,G) if g['grade']=='bad']
piles=defaultdict(list)
for p,g in bad: piles[g['pile']].append((p,g))
for k,v in sorted(piles.items(), key=lambda kv:-len(kv[1])):
    cos=[p['cosine']-p['floor'] for p,_ in v]
    print(f"\n{k}: {len(v)}  kinds={Counter(p['kind'] for p,_ in v)} readers={Counter(p['reader'] for p,_ in v)}")
    print('  cos-floor median', round(st.median(cos),3), 'cos median', round(st.median([p['cosine'] for p,_ in v]),3))
    print('  has both-on', sum('both on' in p['reason'] for p,_ in v))
    for p,g in v: print('   ', p['kind'], p['category'], p['year'], p['cosine'], '|', p['title'][:60], '|', p['reason'].split('—')[-1][:60] if '—' in p['reason'] else '(no phrase)')
print('\n-- by grade: cosine margin and both-on')
for gr in ('good','acceptable','bad'):
    rows=[p for p,g in zip(P,G) if g['grade']==gr]
    print(gr, 'median cos', round(st.median([p['cosine'] for p in rows]),3), 'median margin', round(st.median([p['cosine']-p['floor'] for p in rows]),3), 'both-on', sum('both on' in p['reason'] for p in rows), '/', len(rows))
# margin buckets
print('\n-- margin buckets (cos-floor)')
for lo,hi in ((0,.03),(.03,.08),(.08,.15),(.15,1)):
    rows=[g for p,g in zip(P,G) if lo<=p['cosine']-p['floor']<hi]
    print(lo,hi, share(rows) if rows else 0)
# method-phrase detection
METH=r"\b(gan|gans|generative adversarial|lstm|rnn|recurrent neural|attention mechanism|hidden layers|pca|principal components|canonical correlation|word embeddings?|variational autoencoders|encoder decoder)\b"
print('\n-- reason phrase is a method name')
for gr in ('good','acceptable','bad'):
    rows=[p for p,g in zip(P,G) if g['grade']==gr]
    m=[p for p in rows if '—' in p['reason'] and re.search(METH, p['reason'].split('—')[-1].lower())]
    print(gr, len(m), '/', len(rows))
# cross-field and method phrase
rows=[(p,g) for p,g in zip(P,G) if p['kind']=='cross-field']
m=[(p,g) for p,g in rows if '—' in p['reason'] and re.search(METH, p['reason'].split('—')[-1].lower())]
print('cross-field with method phrase:', Counter(g['grade'] for _,g in m), ' without:', Counter(g['grade'] for p,g in rows if (p,g) not in m))
# neighbour concentration
print('\n-- neighbour read -> grades')
nb=defaultdict(Counter)
for p,g in zip(P,G):
    mm=re.search(r'[Cc]lose to “(.*?)”(?: —|$)', p['reason'])
    nb[(p['reader'][:8], mm.group(1)[:50] if mm else '?')][g['grade']]+=1
for k,v in sorted(nb.items(), key=lambda kv:-sum(kv[1].values())): print(k, dict(v))
# old picks: year and category
print('\n-- old kind by category')
for p,g in zip(P,G):
    if p['kind']=='old': pass
oc=defaultdict(Counter)
for p,g in zip(P,G):
    if p['kind']=='old': oc[p['reader'][:8]][g['grade']]+=1
print(dict(oc))
