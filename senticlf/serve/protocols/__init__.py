"""The protocols the server speaks, each a thin adapter over the one batcher (service.Service).

tei: ``POST /predict``, text-embeddings-inference's request and answer; native: ``POST
/classify``, senticlf's own richer answer; kserve: the Open Inference Protocol (KServe v2).
"""
