"""Deployment: front ends over one prediction service (chapter on deployment).

=============================  ==============================================
``cnnguide.deploy.service``    the prediction service every front end calls
``cnnguide.deploy.api``        the FastAPI web API
``cnnguide.deploy.app``        the Streamlit teaching page
``cnnguide.deploy.edge``       TFLite export and the LiteRT interpreter
=============================  ==============================================
"""
